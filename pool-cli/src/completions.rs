//! `mmpool completions <SHELL>`: the shell completion script of this build's command line
//! (clap_complete), on stdout.
//!
//! Invariants: the script is generated from the same clap definition that parses the command
//! line, so it offers exactly this build's subcommands and flags; it is written in one go with
//! the write errors of every other subcommand ([`crate::output`]): 1 and one line for a failed
//! write, a quiet 141 for a closed pipe.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::outcome::Exit;
use crate::output::{write_failed, write_stdout};
use crate::Cli;

/// What `completions --help` adds after the options.
pub const COMPLETIONS_HELP: &str = "\
Install, for example:
  bash:        mmpool completions bash > ~/.local/share/bash-completion/completions/mmpool
  zsh:         mmpool completions zsh > ~/.zfunc/_mmpool   (with fpath+=~/.zfunc before compinit)
  fish:        mmpool completions fish > ~/.config/fish/completions/mmpool.fish
  powershell:  mmpool completions powershell >> $PROFILE
  elvish:      mmpool completions elvish >> ~/.config/elvish/rc.elv

Exit codes: 0 printed, 1 cannot write output (e.g. a full disk), 2 usage error (e.g. an unknown \
shell), 141 output closed (stdout is a pipe whose reader is gone; no message).";

/// Print the completion script of a shell.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script of `shell` for `mmpool`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "mmpool", &mut script);
    script
}

/// Runs `mmpool completions`.
pub fn run(args: &CompletionsArgs) -> Exit {
    let script = String::from_utf8_lossy(&script(args.shell)).into_owned();
    match write_stdout(&script) {
        Ok(()) => Exit::Ok,
        Err(e) => write_failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in Shell::value_variants() {
            let script = String::from_utf8(script(*shell)).expect("a script is UTF-8");
            for subcommand in ["call", "all", "describe", "watch", "completions"] {
                assert!(script.contains(subcommand), "{shell}: no {subcommand}");
            }
        }
    }
}
