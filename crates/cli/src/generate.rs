//! `disconcierge completions SHELL` and `disconcierge manpage`: shell completion scripts and the roff man
//! page, generated from the command line's definition (clap), so they always match the binary that prints
//! them. `scripts/release.sh` writes both next to the binary it builds.

use clap::Command;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::Roff;
use std::io;

/// The completion script for `shell`, for the command named as `command` is (`disconcierge`).
pub fn completions(mut command: Command, shell: Shell) -> Vec<u8> {
    let name = command.get_name().to_owned();
    // clap_complete panics on a failed write, so it writes into memory; the caller writes that out and
    // reports a failed write as an error.
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut out);
    out
}

/// The man page (section 1, roff), one page for everything: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (the
/// global ones), then COMMANDS with every command, nested ones included (`config check`), each with its
/// synopsis, description and options, and VERSION.
///
/// clap_mangen's own page lists the commands as references to pages of their own (`disconcierge-run(1)`),
/// which would have to be installed too; this page is put together from its sections instead.
pub fn manpage(command: Command) -> io::Result<Vec<u8>> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let man = Man::new(command.clone());
    let mut page = String::new();
    // The first piece keeps the preamble that defines the apostrophe the others' text uses.
    page.push_str(&rendered(|w| man.render_title(w))?);
    page.push_str(&piece(|w| man.render_name_section(w))?);
    page.push_str(&piece(|w| man.render_synopsis_section(w))?);
    page.push_str(&piece(|w| man.render_description_section(w))?);
    page.push_str(&piece(|w| man.render_options_section(w))?);
    page.push_str(".SH COMMANDS\n");
    for sub in commands_below(&command) {
        page.push_str(&command_entry(sub)?);
    }
    page.push_str(&piece(|w| man.render_version_section(w))?);
    Ok(page.into_bytes())
}

/// `command`'s commands and theirs, depth first, in their declared order.
fn commands_below(command: &Command) -> Vec<&Command> {
    let mut out = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(sub);
        out.extend(commands_below(sub));
    }
    out
}

/// One command under COMMANDS: a subsection named as it is typed, its synopsis, its description and
/// its own options (the global `--config` and `--help` are said once, under OPTIONS).
fn command_entry(command: &Command) -> io::Result<String> {
    let shown = command.clone().mut_args(|arg| {
        if arg.is_global_set() || arg.get_id() == "help" {
            arg.hide(true)
        } else {
            arg
        }
    });
    let man = Man::new(shown);
    let mut heading = Roff::new();
    heading.control("SS", [command.get_bin_name().unwrap_or(command.get_name())]);
    let mut out = heading.to_roff();
    out.push_str(&body(&piece(|w| man.render_synopsis_section(w))?));
    out.push_str(".PP\n");
    out.push_str(&body(&piece(|w| man.render_description_section(w))?));
    out.push_str(&body(&piece(|w| man.render_options_section(w))?));
    Ok(out)
}

/// What a clap_mangen renderer writes, as text (roff is UTF-8 text here: it comes from our strings).
fn rendered(render: impl FnOnce(&mut dyn io::Write) -> io::Result<()>) -> io::Result<String> {
    let mut buf = Vec::new();
    render(&mut buf)?;
    String::from_utf8(buf).map_err(io::Error::other)
}

/// A section as [`rendered`], without the preamble each renderer writes again.
fn piece(render: impl FnOnce(&mut dyn io::Write) -> io::Result<()>) -> io::Result<String> {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let text = rendered(render)?;
    Ok(text.strip_prefix(PREAMBLE).unwrap_or(&text).to_owned())
}

/// A section without its `.SH` heading line (empty when the section is).
fn body(section: &str) -> String {
    match section.strip_prefix(".SH ") {
        Some(rest) => rest
            .split_once('\n')
            .map(|(_, b)| b)
            .unwrap_or("")
            .to_owned(),
        None => section.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command of the CLI, nested ones included (`config check`), as the names a user types.
    fn every_subcommand(command: &Command) -> Vec<String> {
        let mut out = Vec::new();
        for sub in command.get_subcommands() {
            out.push(sub.get_name().to_owned());
            out.extend(every_subcommand(sub));
        }
        out
    }

    #[test]
    fn the_cli_has_the_commands_the_tests_look_for() {
        let names = every_subcommand(&crate::Cli::command());
        for expected in [
            "run",
            "init",
            "config",
            "check",
            "example",
            "completions",
            "manpage",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }

    /// Whether one of a bash script's `opts="…"` lists (what a TAB offers at some point) offers all `words`.
    fn offers(script: &str, words: &[&str]) -> bool {
        script.lines().any(|line| {
            line.trim().strip_prefix("opts=\"").is_some_and(|opts| {
                let offered: Vec<&str> = opts.trim_end_matches('"').split_whitespace().collect();
                words.iter().all(|w| offered.contains(w))
            })
        })
    }

    #[test]
    fn the_bash_completion_names_every_subcommand() {
        let script = String::from_utf8(completions(crate::Cli::command(), Shell::Bash)).unwrap();
        assert!(script.contains("complete -F _disconcierge"), "{script}");
        let cli = crate::Cli::command();
        // `disconcierge <TAB>` offers every command, `disconcierge config <TAB>` its own, and so on.
        let mut parents = vec![&cli];
        while let Some(parent) = parents.pop() {
            let names: Vec<&str> = parent.get_subcommands().map(|s| s.get_name()).collect();
            if !names.is_empty() {
                assert!(
                    offers(&script, &names),
                    "{names:?} not offered by:\n{script}"
                );
            }
            parents.extend(parent.get_subcommands());
        }
        for name in every_subcommand(&cli) {
            assert!(script.contains(&name), "{name} missing from:\n{script}");
        }
        // And the values of `completions`' argument.
        assert!(
            offers(&script, &["bash", "elvish", "fish", "powershell", "zsh"]),
            "{script}"
        );
        assert!(offers(&script, &["--config", "--help"]), "{script}");
    }

    #[test]
    fn every_shell_gets_a_script() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let script = String::from_utf8(completions(crate::Cli::command(), shell)).unwrap();
            assert!(script.contains("healthcheck"), "{shell}: {script}");
        }
    }

    #[test]
    fn the_man_page_has_its_sections_and_every_subcommand() {
        let page = String::from_utf8(manpage(crate::Cli::command()).unwrap()).unwrap();
        assert!(page.starts_with(".ie"), "{page}");
        assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble:\n{page}");
        assert!(page.contains(".TH disconcierge 1"), "{page}");
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH COMMANDS",
            ".SH VERSION",
        ] {
            assert_eq!(page.matches(section).count(), 1, "{section} in:\n{page}");
        }
        assert!(
            page.contains("disconcierge \\- A Discord AI concierge and support desk."),
            "{page}"
        );
        // Each command has its subsection, under the name it is typed as.
        let mut typed = Vec::new();
        for sub in crate::Cli::command().get_subcommands() {
            typed.push(format!("disconcierge {}", sub.get_name()));
            for nested in sub.get_subcommands() {
                typed.push(format!(
                    "disconcierge {} {}",
                    sub.get_name(),
                    nested.get_name()
                ));
            }
        }
        for name in &typed {
            assert!(
                page.contains(&format!(".SS \"{name}\"\n")),
                "{name} missing from:\n{page}"
            );
        }
        for name in every_subcommand(&crate::Cli::command()) {
            assert!(page.contains(&name), "{name} missing from:\n{page}");
        }
        // With their own options and values; the global ones are described once.
        for option in [
            "\\-\\-dry\\-run",
            "\\-\\-password\\-stdin",
            "\\-\\-timeout",
            "powershell",
        ] {
            assert!(page.contains(option), "{option} missing from:\n{page}");
        }
        assert_eq!(
            page.matches("\\-\\-config").count(),
            2,
            "synopsis and OPTIONS:\n{page}"
        );
        assert!(
            !page.contains("disconcierge\\-run(1)"),
            "no references to other pages"
        );
    }
}
