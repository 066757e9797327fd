/* main.c - vppnotify's entry point: dispatch to a subcommand. */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("vppnotify %s\n", VN_VERSION);
    return 0;
}
