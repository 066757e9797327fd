#!/usr/bin/env bash
# What is generated from the option table stays in step with it: the man pages and the bash and
# zsh completion scripts that the build writes under build/share/ (the same as what the binary
# generates now, every command with a page, every option of a command in its page and offered
# by its completion), and docs/SCHEMA.md states the schema version the code creates.
source "$(dirname "$0")/lib.sh"

SHARE=$VN_BUILD_DIR/share
MAN=$SHARE/man/man1
BASHC=$SHARE/bash-completion/completions/vppnotify
ZSHC=$SHARE/zsh/site-functions/_vppnotify

# The commands of the overview, and the options each one's -h lists.
"$VPPNOTIFY" --help >"$T/h"
cmds=$(sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z-]*\)\?\)  .*/\1/p' "$T/h" | sed 's/ *$//')
[ "$(echo "$cmds" | wc -l)" -ge 15 ] || fail "too few commands: $cmds"
options_of() {
    # shellcheck disable=SC2086
    "$VPPNOTIFY" $1 -h | sed -n 's/^  \(-h, \)\?\(--[a-z][a-z-]*\).*/\2/p' | sort
}

# ---- the build's copies are what the binary generates now -------------------------------------

for f in "$BASHC" "$ZSHC" "$MAN/vppnotify.1"; do
    [ -s "$f" ] || fail "the build did not write $f"
done
mkdir "$T/man"
"$VPPNOTIFY" help --man "$T/man" || fail "help --man"
"$VPPNOTIFY" help --bash-completion >"$T/bash" || fail "help --bash-completion"
"$VPPNOTIFY" help --zsh-completion >"$T/zsh" || fail "help --zsh-completion"
diff -r "$MAN" "$T/man" >"$T/d" || fail "build/share/man/man1 is stale: $(head -n 20 "$T/d")"
cmp -s "$BASHC" "$T/bash" || fail "$BASHC is stale"
cmp -s "$ZSHC" "$T/zsh" || fail "$ZSHC is stale"
ok "build/share holds what the binary generates (man pages, bash and zsh completion)"

# ---- man pages --------------------------------------------------------------------------------

npages=0
while read -r cmd; do
    page=$MAN/vppnotify-${cmd// /-}.1
    [ -s "$page" ] || fail "no man page for '$cmd' ($page)"
    for opt in $(options_of "$cmd"); do
        grep -qF -- "\\fB${opt//-/\\-}\\fR" "$page" || fail "man page of '$cmd' lacks $opt"
    done
    ref=vppnotify-${cmd// /-}
    grep -qF -- "${ref//-/\\-} (1)" "$MAN/vppnotify.1" || fail "vppnotify(1) does not list '$cmd'"
    npages=$((npages + 1))
done <<<"$cmds"
[ "$(find "$MAN" -name 'vppnotify-*.1' | wc -l)" -eq "$npages" ] || fail "pages for unknown commands"
# groff renders every page without a warning (-ww: all warnings).
for page in "$MAN"/*.1; do
    groff -man -ww -z -Tutf8 "$page" 2>"$T/groff" || fail "groff failed on $page"
    [ ! -s "$T/groff" ] || fail "groff warns about $page: $(head -n 5 "$T/groff")"
done
MANWIDTH=80 man -l "$MAN/vppnotify-serve.1" 2>/dev/null >"$T/serve.txt" || true
if [ -s "$T/serve.txt" ]; then
    assert_contains "$T/serve.txt" "--max-body SIZE" "man vppnotify-serve renders an option"
fi
ok "a man page per command ($npages) documents each of its options; groff -ww is silent"

# ---- bash completion, driven as bash would ------------------------------------------------------

# complete WORDS...: COMPREPLY, sorted, one per line, for the command line "vppnotify WORDS"
# with the cursor on the last word (give '' to complete a new word).
complete_bash() {
    bash -c 'source "$1"; shift; COMP_WORDS=(vppnotify "$@"); COMP_CWORD=$#
             _vppnotify; printf "%s\n" "${COMPREPLY[@]}" | sort' complete "$BASHC" "$@"
}
complete_bash '' >"$T/c"
for w in help serve location assets sync replay; do
    grep -qx "$w" "$T/c" || fail "bash: first word '$w' not offered: $(tr '\n' ' ' <"$T/c")"
done
[ "$(complete_bash as)" = assets$'\n'assignments ] || fail "bash: 'as' -> $(complete_bash as)"
[ "$(complete_bash location '' | tr '\n' ' ')" = "add list remove rotate-token set-stoken " ] ||
    fail "bash: location subcommands: $(complete_bash location '' | tr '\n' ' ')"
[ "$(complete_bash assets a | tr '\n' ' ')" = "associate " ] || fail "bash: assets a"
[ "$(complete_bash serve --log-level '' | tr '\n' ' ')" = "debug error info warn " ] ||
    fail "bash: --log-level values: $(complete_bash serve --log-level '' | tr '\n' ' ')"
mkdir "$T/files" && touch "$T/files/main.db"
[ "$(cd "$T/files" && complete_bash assets --db m)" = main.db ] || fail "bash: --db completes files"
[ -z "$(complete_bash serve --listen '')" ] || fail "bash: --listen offers nothing to guess"
ncmds=0
while read -r cmd; do
    # shellcheck disable=SC2086
    got=$(complete_bash $cmd --)
    want=$(options_of "$cmd")
    [ "$got" = "$want" ] || fail "bash: options of '$cmd': offered $(echo $got), -h lists $(echo $want)"
    ncmds=$((ncmds + 1))
done <<<"$cmds"
ok "bash completion: commands, subcommands, option values, and each command's options ($ncmds)"

# ---- zsh completion -----------------------------------------------------------------------------

zsh -n "$ZSHC" || fail "zsh: syntax error in $ZSHC"
head -n1 "$ZSHC" | grep -qx '#compdef vppnotify' || fail "zsh: no #compdef line"
while read -r cmd; do
    sed -n "/^    ('$cmd')\$/,/;;\$/p" "$ZSHC" >"$T/z"
    [ -s "$T/z" ] || fail "zsh: no case for '$cmd'"
    for opt in $(options_of "$cmd"); do
        [ "$opt" = --help ] && continue
        grep -qE -- "'\\*?$opt(\\[|$)" "$T/z" || fail "zsh: '$cmd' lacks $opt"
    done
done <<<"$cmds"
# Driven as a user would: an interactive zsh in a pseudo-terminal (zsh/zpty), a line typed
# and TAB pressed; its screen is read until the expected completion shows (20 s at most).
cat >"$T/drive.zsh" <<'ZSH'
# zsh -f drive.zsh FPATH_DIR DIR LINE EXPECTED_REGEX
setopt extendedglob
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "cd ${(q)2}; PS1='%% '; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*' list-prompt ''; LISTMAX=10000; vppnotify() { :; }"
zpty -w -n z "$3"$'\t'
out="" clean="" deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
    if zpty -r -t z chunk; then out+=$chunk; else sleep 0.05; fi
    clean=${out//$'\e'\[[0-9\;?]#[a-zA-Z]/}
    clean=${clean//$'\r'/}
    if [[ $clean =~ $4 ]]; then zpty -d z; exit 0; fi
done
print -r -- "$clean" >&2
zpty -d z
exit 1
ZSH
zsh_completes() {
    zsh -f "$T/drive.zsh" "$(dirname "$ZSHC")" "$T/files" "$1" "$2" 2>"$T/zsh.screen" ||
        fail "zsh: '$1<TAB>' did not show /$2/: $(tail -c 600 "$T/zsh.screen")"
}
zsh_completes 'vppnotify assets --ad' 'vppnotify assets --adam-id $'
zsh_completes 'vppnotify sync --fu' 'vppnotify sync --full $'
zsh_completes 'vppnotify location ' 'rotate-token +-- give a location a new token'
zsh_completes 'vppnotify serve --log-level ' 'debug +error +info +warn'
zsh_completes 'vppnotify users --db ma' 'vppnotify users --db main\.db $'
ok "zsh completion: valid syntax, every command's options; TAB in zsh completes them"

# ---- docs/SCHEMA.md states the schema version the code creates ----------------------------------

vn_cli location add --uid 1 --name schema >/dev/null 2>&1 || fail "cannot create a database"
created=$(sqlite3 "$T/vn.db" 'SELECT max(version) FROM schema_migrations')
[[ $created =~ ^[0-9]+$ ]] || fail "no schema version in a new database: '$created'"
stated=$(sed -n 's/^Current version: \*\*\([0-9]*\)\*\*.*/\1/p' "$VN_SOURCE_DIR/docs/SCHEMA.md")
[ -n "$stated" ] || fail "docs/SCHEMA.md has no 'Current version: **N**' line"
assert_eq "$stated" "$created" \
    "docs/SCHEMA.md's 'Current version' (the schema vppnotify creates is version $created)"
ok "docs/SCHEMA.md states schema version $created, the one a new database gets"
