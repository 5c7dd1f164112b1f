# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_bytewax_global_optspecs
    string join \n h/help V/version
end

function __fish_bytewax_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_bytewax_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_bytewax_using_subcommand
    set -l cmd (__fish_bytewax_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c bytewax -n "__fish_bytewax_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bytewax -n "__fish_bytewax_needs_command" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "run" -d 'Run a dataflow'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "init-db" -d 'Create empty recovery partitions in a directory'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "python" -d 'Run Python (script, -c, -m or a REPL) with the bytewax package importable'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "graph" -d 'Print a dataflow\'s steps and streams without running it'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "recovery" -d 'Look inside recovery partitions'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c bytewax -n "__fish_bytewax_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s w -l workers-per-process -d 'Number of worker threads in each process' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s s -l snapshot-interval -d 'Length of an epoch: how often state is snapshotted (seconds, or e.g. `30s`, `10m`); 10s if not given' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s r -l recovery-directory -d 'Directory of recovery partitions (create it with `bytewax init-db`)' -r -F
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s b -l backup-interval -d 'How long old snapshots are kept, so that backed-up partitions still share a resume point' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s i -l process-id -d 'This process\'s index in the cluster (needs --addresses or BYTEWAX_HOSTFILE_PATH)' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s a -l addresses -d 'Addresses of every process in the cluster, `host:port` separated by `;`' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s p -l processes -d 'Start this many local processes on free loopback ports and supervise them' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -l log-level -d 'Log level on stderr: error, warn, info, debug or trace' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''"
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s h -l help -d 'Print help'
complete -c bytewax -n "__fish_bytewax_using_subcommand run" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand init-db" -s h -l help -d 'Print help'
complete -c bytewax -n "__fish_bytewax_using_subcommand init-db" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand python" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand graph" -s f -l format -d 'Output format' -r -f -a "mermaid\t''
dot\t''
json\t''"
complete -c bytewax -n "__fish_bytewax_using_subcommand graph" -s d -l depth -d 'How many levels of nested substeps to show (1 shows only top-level steps)' -r
complete -c bytewax -n "__fish_bytewax_using_subcommand graph" -s h -l help -d 'Print help'
complete -c bytewax -n "__fish_bytewax_using_subcommand graph" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and not __fish_seen_subcommand_from inspect help" -s h -l help -d 'Print help'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and not __fish_seen_subcommand_from inspect help" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and not __fish_seen_subcommand_from inspect help" -f -a "inspect" -d 'Show partitions, executions, the resume epoch and snapshot counts per step'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and not __fish_seen_subcommand_from inspect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and __fish_seen_subcommand_from inspect" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Show partitions, executions, the resume epoch and snapshot counts per step'
complete -c bytewax -n "__fish_bytewax_using_subcommand recovery; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bytewax -n "__fish_bytewax_using_subcommand completions" -s h -l help -d 'Print help'
complete -c bytewax -n "__fish_bytewax_using_subcommand completions" -s V -l version -d 'Print version'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "run" -d 'Run a dataflow'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "init-db" -d 'Create empty recovery partitions in a directory'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "python" -d 'Run Python (script, -c, -m or a REPL) with the bytewax package importable'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "graph" -d 'Print a dataflow\'s steps and streams without running it'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "recovery" -d 'Look inside recovery partitions'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and not __fish_seen_subcommand_from run init-db python graph recovery completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bytewax -n "__fish_bytewax_using_subcommand help; and __fish_seen_subcommand_from recovery" -f -a "inspect" -d 'Show partitions, executions, the resume epoch and snapshot counts per step'
