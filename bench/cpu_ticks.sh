# bench/cpu_ticks.sh - sourced by bench/run.sh and bench/pg.sh: CPU time in clock ticks (HZ per
# second) read from /proc.
#   cpu_ticks PID...   utime + stime of the processes, 0 for a gone one (for processes that live
#                      through the whole measurement)
#   machine_ticks      every CPU's busy time (user, nice, system, irq, softirq)
HZ=$(getconf CLK_TCK)
cpu_ticks() {
    local sum=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        sum=$((sum + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$sum"
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
