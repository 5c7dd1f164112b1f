
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bytewax' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bytewax'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'bytewax' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a dataflow')
            [CompletionResult]::new('init-db', 'init-db', [CompletionResultType]::ParameterValue, 'Create empty recovery partitions in a directory')
            [CompletionResult]::new('python', 'python', [CompletionResultType]::ParameterValue, 'Run Python (script, -c, -m or a REPL) with the bytewax package importable')
            [CompletionResult]::new('graph', 'graph', [CompletionResultType]::ParameterValue, 'Print a dataflow''s steps and streams without running it')
            [CompletionResult]::new('recovery', 'recovery', [CompletionResultType]::ParameterValue, 'Look inside recovery partitions')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'bytewax;run' {
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Number of worker threads in each process')
            [CompletionResult]::new('--workers-per-process', '--workers-per-process', [CompletionResultType]::ParameterName, 'Number of worker threads in each process')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Length of an epoch: how often state is snapshotted (seconds, or e.g. `30s`, `10m`); 10s if not given')
            [CompletionResult]::new('--snapshot-interval', '--snapshot-interval', [CompletionResultType]::ParameterName, 'Length of an epoch: how often state is snapshotted (seconds, or e.g. `30s`, `10m`); 10s if not given')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Directory of recovery partitions (create it with `bytewax init-db`)')
            [CompletionResult]::new('--recovery-directory', '--recovery-directory', [CompletionResultType]::ParameterName, 'Directory of recovery partitions (create it with `bytewax init-db`)')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'How long old snapshots are kept, so that backed-up partitions still share a resume point')
            [CompletionResult]::new('--backup-interval', '--backup-interval', [CompletionResultType]::ParameterName, 'How long old snapshots are kept, so that backed-up partitions still share a resume point')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'This process''s index in the cluster (needs --addresses or BYTEWAX_HOSTFILE_PATH)')
            [CompletionResult]::new('--process-id', '--process-id', [CompletionResultType]::ParameterName, 'This process''s index in the cluster (needs --addresses or BYTEWAX_HOSTFILE_PATH)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Addresses of every process in the cluster, `host:port` separated by `;`')
            [CompletionResult]::new('--addresses', '--addresses', [CompletionResultType]::ParameterName, 'Addresses of every process in the cluster, `host:port` separated by `;`')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Start this many local processes on free loopback ports and supervise them')
            [CompletionResult]::new('--processes', '--processes', [CompletionResultType]::ParameterName, 'Start this many local processes on free loopback ports and supervise them')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr: error, warn, info, debug or trace')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'bytewax;init-db' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'bytewax;python' {
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'bytewax;graph' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'How many levels of nested substeps to show (1 shows only top-level steps)')
            [CompletionResult]::new('--depth', '--depth', [CompletionResultType]::ParameterName, 'How many levels of nested substeps to show (1 shows only top-level steps)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'bytewax;recovery' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show partitions, executions, the resume epoch and snapshot counts per step')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'bytewax;recovery;inspect' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'bytewax;recovery;help' {
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show partitions, executions, the resume epoch and snapshot counts per step')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'bytewax;recovery;help;inspect' {
            break
        }
        'bytewax;recovery;help;help' {
            break
        }
        'bytewax;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'bytewax;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a dataflow')
            [CompletionResult]::new('init-db', 'init-db', [CompletionResultType]::ParameterValue, 'Create empty recovery partitions in a directory')
            [CompletionResult]::new('python', 'python', [CompletionResultType]::ParameterValue, 'Run Python (script, -c, -m or a REPL) with the bytewax package importable')
            [CompletionResult]::new('graph', 'graph', [CompletionResultType]::ParameterValue, 'Print a dataflow''s steps and streams without running it')
            [CompletionResult]::new('recovery', 'recovery', [CompletionResultType]::ParameterValue, 'Look inside recovery partitions')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'bytewax;help;run' {
            break
        }
        'bytewax;help;init-db' {
            break
        }
        'bytewax;help;python' {
            break
        }
        'bytewax;help;graph' {
            break
        }
        'bytewax;help;recovery' {
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show partitions, executions, the resume epoch and snapshot counts per step')
            break
        }
        'bytewax;help;recovery;inspect' {
            break
        }
        'bytewax;help;completions' {
            break
        }
        'bytewax;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
