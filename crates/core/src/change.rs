//! Commit `--change` instructions: the Dockerfile-like lines (`CMD ["python3","app.py"]`,
//! `ENV K=V`, ...) that adjust a committed image's config, parsed and validated here so that a
//! typo is reported with its rule before anything reaches the engine.
//!
//! We are stricter than `docker commit --change` in two places, on purpose: a `CMD`/`ENTRYPOINT`
//! that starts with `[` but is not a JSON array of strings is an error (Docker silently runs it as
//! a shell command, which is nearly always a quoting mistake), and `WORKDIR` must be absolute
//! (there is no previous `WORKDIR` for a relative one to build on).

use std::collections::BTreeMap;

use slipway_engine::commit::CommitConfig;

/// Why a `--change` instruction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The line is empty.
    #[error("the change is empty; write an instruction such as CMD [\"python3\",\"app.py\"]")]
    Empty,
    /// The instruction is not one commit supports.
    #[error("`{instruction}` is not a supported change; use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR")]
    UnknownInstruction {
        /// The first word of the line.
        instruction: String,
    },
    /// The instruction has no arguments.
    #[error("{instruction} needs an argument, e.g. {example}")]
    MissingArgument {
        /// The instruction.
        instruction: &'static str,
        /// An example of a correct line.
        example: &'static str,
    },
    /// Exec form (`[...]`) that is not a JSON array of strings.
    #[error("{instruction} {input} starts with `[` but is not a JSON array of strings ({reason}); write it as {instruction} [\"executable\", \"arg\"] with double quotes, or without brackets for shell form")]
    BadExecForm {
        /// CMD or ENTRYPOINT.
        instruction: &'static str,
        /// The arguments as written.
        input: String,
        /// What the JSON parser said.
        reason: String,
    },
    /// A quote was opened and never closed.
    #[error("{instruction} {input} has an unterminated {quote} quote")]
    UnterminatedQuote {
        /// The instruction.
        instruction: &'static str,
        /// The arguments as written.
        input: String,
        /// `'` or `"`.
        quote: char,
    },
    /// `ENV`/`LABEL` entry without `=`, or with an empty key.
    #[error("{instruction} entry `{entry}` is not KEY=value; write e.g. {instruction} {example}")]
    BadKeyValue {
        /// ENV or LABEL.
        instruction: &'static str,
        /// The offending word.
        entry: String,
        /// An example of a correct line.
        example: &'static str,
    },
    /// An `ENV` name that shells cannot use.
    #[error("ENV name `{name}` is invalid: names use letters, digits and `_` and do not start with a digit")]
    BadEnvName {
        /// The name.
        name: String,
    },
    /// An `EXPOSE` entry that is not `port[/tcp|udp|sctp]`.
    #[error("EXPOSE `{entry}` is invalid: {reason}; write e.g. EXPOSE 8080/tcp")]
    BadPort {
        /// The offending word.
        entry: String,
        /// Which part is wrong.
        reason: String,
    },
    /// A relative `WORKDIR`.
    #[error("WORKDIR `{path}` is not absolute; write an absolute path such as /opt/app")]
    RelativeWorkdir {
        /// The path.
        path: String,
    },
    /// More than one word where one is expected.
    #[error("{instruction} takes a single value, got `{input}`")]
    TooManyArguments {
        /// WORKDIR or USER.
        instruction: &'static str,
        /// The arguments as written.
        input: String,
    },
}

/// One parsed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `CMD`, in exec form.
    Cmd(Vec<String>),
    /// `ENTRYPOINT`, in exec form.
    Entrypoint(Vec<String>),
    /// `ENV`: one or more `(name, value)`.
    Env(Vec<(String, String)>),
    /// `EXPOSE`: `port/proto` entries.
    Expose(Vec<String>),
    /// `LABEL`: one or more `(key, value)`.
    Label(Vec<(String, String)>),
    /// `USER`.
    User(String),
    /// `WORKDIR`.
    Workdir(String),
}

/// Parses one instruction line.
pub fn parse_change(line: &str) -> Result<Change, ChangeError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(ChangeError::Empty);
    }
    let (keyword, args) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    };
    match keyword.to_ascii_uppercase().as_str() {
        "CMD" => command("CMD", args).map(Change::Cmd),
        "ENTRYPOINT" => command("ENTRYPOINT", args).map(Change::Entrypoint),
        "ENV" => env(args).map(Change::Env),
        "LABEL" => label(args).map(Change::Label),
        "EXPOSE" => expose(args).map(Change::Expose),
        "USER" => single("USER", "USER app", args).map(Change::User),
        "WORKDIR" => {
            let path = single("WORKDIR", "WORKDIR /opt/app", args)?;
            if !path.starts_with('/') {
                return Err(ChangeError::RelativeWorkdir { path });
            }
            Ok(Change::Workdir(path))
        }
        _ => Err(ChangeError::UnknownInstruction {
            instruction: keyword.to_string(),
        }),
    }
}

/// Parses every line and folds them, in order, into the config the engine applies: a later `CMD`
/// replaces an earlier one, `ENV` and `LABEL` accumulate with later keys winning.
pub fn parse_changes<S: AsRef<str>>(lines: &[S]) -> Result<CommitConfig, ChangeError> {
    let mut config = CommitConfig::default();
    let mut env: Vec<(String, String)> = Vec::new();
    for line in lines {
        match parse_change(line.as_ref())? {
            Change::Cmd(cmd) => config.cmd = Some(cmd),
            Change::Entrypoint(entrypoint) => config.entrypoint = Some(entrypoint),
            Change::Env(pairs) => {
                for (name, value) in pairs {
                    env.retain(|(existing, _)| *existing != name);
                    env.push((name, value));
                }
            }
            Change::Expose(ports) => {
                for port in ports {
                    if !config.exposed_ports.contains(&port) {
                        config.exposed_ports.push(port);
                    }
                }
            }
            Change::Label(pairs) => config.labels.extend(pairs),
            Change::User(user) => config.user = Some(user),
            Change::Workdir(dir) => config.working_dir = Some(dir),
        }
    }
    config.env = env
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    Ok(config)
}

/// Renders a config back as instruction lines, for display and for the workshop log.
pub fn describe(config: &CommitConfig) -> Vec<String> {
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_default();
    let mut lines = Vec::new();
    if let Some(cmd) = &config.cmd {
        lines.push(format!("CMD {}", json(cmd)));
    }
    if let Some(entrypoint) = &config.entrypoint {
        lines.push(format!("ENTRYPOINT {}", json(entrypoint)));
    }
    for entry in &config.env {
        lines.push(format!("ENV {entry}"));
    }
    for port in &config.exposed_ports {
        lines.push(format!("EXPOSE {port}"));
    }
    let labels: BTreeMap<_, _> = config.labels.iter().collect();
    for (key, value) in labels {
        lines.push(format!(
            "LABEL {key}={}",
            serde_json::to_string(value).unwrap_or_default()
        ));
    }
    if let Some(user) = &config.user {
        lines.push(format!("USER {user}"));
    }
    if let Some(dir) = &config.working_dir {
        lines.push(format!("WORKDIR {dir}"));
    }
    lines
}

fn command(instruction: &'static str, args: &str) -> Result<Vec<String>, ChangeError> {
    if args.is_empty() {
        return Err(ChangeError::MissingArgument {
            instruction,
            example: if instruction == "CMD" {
                "CMD [\"python3\", \"app.py\"]"
            } else {
                "ENTRYPOINT [\"/usr/bin/app\"]"
            },
        });
    }
    if args.starts_with('[') {
        let argv: Vec<String> =
            serde_json::from_str(args).map_err(|error| ChangeError::BadExecForm {
                instruction,
                input: args.to_string(),
                reason: error.to_string(),
            })?;
        if argv.is_empty() || argv[0].is_empty() {
            return Err(ChangeError::BadExecForm {
                instruction,
                input: args.to_string(),
                reason: "the array names no executable".to_string(),
            });
        }
        return Ok(argv);
    }
    // Shell form, as a Dockerfile runs it.
    Ok(vec!["/bin/sh".into(), "-c".into(), args.to_string()])
}

fn env(args: &str) -> Result<Vec<(String, String)>, ChangeError> {
    const EXAMPLE: &str = "ENV PORT=8080";
    let pairs = key_values("ENV", EXAMPLE, args)?;
    for (name, _) in &pairs {
        let valid_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid_start || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ChangeError::BadEnvName { name: name.clone() });
        }
    }
    Ok(pairs)
}

fn label(args: &str) -> Result<Vec<(String, String)>, ChangeError> {
    key_values("LABEL", "LABEL org.opencontainers.image.title=hello", args)
}

/// `KEY=value KEY2="value two"`, or the legacy single `KEY value` form.
fn key_values(
    instruction: &'static str,
    example: &'static str,
    args: &str,
) -> Result<Vec<(String, String)>, ChangeError> {
    if args.is_empty() {
        return Err(ChangeError::MissingArgument {
            instruction,
            example,
        });
    }
    let words = split_words(instruction, args)?;
    // Legacy form: `ENV NAME value with spaces` (no `=` in the first word).
    if !words[0].contains('=') {
        if words.len() == 1 {
            return Err(ChangeError::BadKeyValue {
                instruction,
                entry: words[0].clone(),
                example,
            });
        }
        let rest = args[args.find(char::is_whitespace).unwrap_or(args.len())..].trim();
        let value = split_words(instruction, rest)?.join(" ");
        return Ok(vec![(words[0].clone(), value)]);
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(ChangeError::BadKeyValue {
                instruction,
                entry: word,
                example,
            }),
        })
        .collect()
}

fn expose(args: &str) -> Result<Vec<String>, ChangeError> {
    if args.is_empty() {
        return Err(ChangeError::MissingArgument {
            instruction: "EXPOSE",
            example: "EXPOSE 8080/tcp",
        });
    }
    args.split_whitespace()
        .map(|entry| {
            let (port, proto) = entry.split_once('/').unwrap_or((entry, "tcp"));
            let proto = proto.to_ascii_lowercase();
            if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                return Err(ChangeError::BadPort {
                    entry: entry.to_string(),
                    reason: format!("protocol `{proto}` is not tcp, udp or sctp"),
                });
            }
            match port.parse::<u16>() {
                Ok(n) if n > 0 => Ok(format!("{n}/{proto}")),
                _ => Err(ChangeError::BadPort {
                    entry: entry.to_string(),
                    reason: format!("`{port}` is not a port number from 1 to 65535"),
                }),
            }
        })
        .collect()
}

fn single(
    instruction: &'static str,
    example: &'static str,
    args: &str,
) -> Result<String, ChangeError> {
    if args.is_empty() {
        return Err(ChangeError::MissingArgument {
            instruction,
            example,
        });
    }
    let mut words = split_words(instruction, args)?;
    if words.len() != 1 {
        return Err(ChangeError::TooManyArguments {
            instruction,
            input: args.to_string(),
        });
    }
    Ok(words.remove(0))
}

/// Splits on whitespace, honouring "double" and 'single' quotes and backslash escapes, as the
/// Dockerfile parser does for ENV and LABEL.
fn split_words(instruction: &'static str, input: &str) -> Result<Vec<String>, ChangeError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                loop {
                    match chars.next() {
                        Some(q) if q == quote => break,
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(escaped) => current.push(escaped),
                            None => break,
                        },
                        Some(other) => current.push(other),
                        None => {
                            return Err(ChangeError::UnterminatedQuote {
                                instruction,
                                input: input.to_string(),
                                quote,
                            })
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(escaped) = chars.next() {
                    current.push(escaped);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_exec_and_shell_forms() {
        assert_eq!(
            parse_change(r#"CMD ["python3","app.py"]"#).unwrap(),
            Change::Cmd(vec!["python3".into(), "app.py".into()])
        );
        assert_eq!(
            parse_change("cmd python3 app.py").unwrap(),
            Change::Cmd(vec!["/bin/sh".into(), "-c".into(), "python3 app.py".into()])
        );
        assert_eq!(
            parse_change(r#"ENTRYPOINT ["/bin/app", "--serve"]"#).unwrap(),
            Change::Entrypoint(vec!["/bin/app".into(), "--serve".into()])
        );
    }

    #[test]
    fn bad_exec_form_is_refused() {
        let error = parse_change("CMD ['python3', 'app.py']").unwrap_err();
        assert!(matches!(error, ChangeError::BadExecForm { .. }), "{error}");
        assert!(error.to_string().contains("double quotes"));
        assert!(matches!(
            parse_change("CMD []").unwrap_err(),
            ChangeError::BadExecForm { .. }
        ));
        assert!(matches!(
            parse_change("CMD").unwrap_err(),
            ChangeError::MissingArgument { .. }
        ));
    }

    #[test]
    fn env_forms() {
        assert_eq!(
            parse_change(r#"ENV GREETING="hello world" PORT=8080"#).unwrap(),
            Change::Env(vec![
                ("GREETING".into(), "hello world".into()),
                ("PORT".into(), "8080".into())
            ])
        );
        assert_eq!(
            parse_change("ENV GREETING hello world").unwrap(),
            Change::Env(vec![("GREETING".into(), "hello world".into())])
        );
        assert!(matches!(
            parse_change("ENV GREETING").unwrap_err(),
            ChangeError::BadKeyValue { .. }
        ));
        assert!(matches!(
            parse_change("ENV =x").unwrap_err(),
            ChangeError::BadKeyValue { .. }
        ));
        assert!(matches!(
            parse_change("ENV 1X=y").unwrap_err(),
            ChangeError::BadEnvName { .. }
        ));
        assert!(matches!(
            parse_change("ENV A=\"open").unwrap_err(),
            ChangeError::UnterminatedQuote { .. }
        ));
    }

    #[test]
    fn expose_label_user_workdir() {
        assert_eq!(
            parse_change("EXPOSE 8080 53/udp").unwrap(),
            Change::Expose(vec!["8080/tcp".into(), "53/udp".into()])
        );
        assert!(matches!(
            parse_change("EXPOSE 99999").unwrap_err(),
            ChangeError::BadPort { .. }
        ));
        assert!(matches!(
            parse_change("EXPOSE 80/http").unwrap_err(),
            ChangeError::BadPort { .. }
        ));
        assert_eq!(
            parse_change("LABEL a.b=c \"d e\"=f").unwrap(),
            Change::Label(vec![("a.b".into(), "c".into()), ("d e".into(), "f".into())])
        );
        assert_eq!(
            parse_change("USER app:app").unwrap(),
            Change::User("app:app".into())
        );
        assert!(matches!(
            parse_change("USER a b").unwrap_err(),
            ChangeError::TooManyArguments { .. }
        ));
        assert_eq!(
            parse_change("WORKDIR /opt/app").unwrap(),
            Change::Workdir("/opt/app".into())
        );
        assert!(matches!(
            parse_change("WORKDIR app").unwrap_err(),
            ChangeError::RelativeWorkdir { .. }
        ));
        assert!(matches!(
            parse_change("RUN apt-get update").unwrap_err(),
            ChangeError::UnknownInstruction { .. }
        ));
        assert!(matches!(
            parse_change("  ").unwrap_err(),
            ChangeError::Empty
        ));
    }

    #[test]
    fn changes_fold_in_order() {
        let config = parse_changes(&[
            "CMD a",
            r#"CMD ["b"]"#,
            "ENV A=1 B=2",
            "ENV A=3",
            "EXPOSE 80",
            "EXPOSE 80/tcp",
            "LABEL k=v",
        ])
        .unwrap();
        assert_eq!(config.cmd, Some(vec!["b".to_string()]));
        assert_eq!(config.env, vec!["B=2".to_string(), "A=3".to_string()]);
        assert_eq!(config.exposed_ports, vec!["80/tcp".to_string()]);
        assert_eq!(config.labels.get("k").map(String::as_str), Some("v"));
        let lines = describe(&config);
        assert!(lines.contains(&"CMD [\"b\"]".to_string()));
    }
}
