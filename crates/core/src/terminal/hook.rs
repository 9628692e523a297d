//! The prompt hook: how a terminal still records every command in the workshop log.
//!
//! A terminal's input is keystrokes, not command lines (arrows, tab completion and Ctrl-R all
//! edit the line inside the shell), so the only one who knows which command ran and how it ended
//! is the shell. Each time it draws a prompt, the shell prints an OSC sequence
//! (`ESC ] 6973 ; token ; status ; history-mark ; command BEL`) with the last command from its
//! history and `$?`. [`HookFilter`] takes those sequences out of the output before the page sees
//! them. The token is random per session and never in the environment, so a program in the
//! container that prints a look-alike sequence is not believed: its sequence stays in the output
//! (where the page's terminal ignores an unknown OSC) and records nothing.
//!
//! The history mark tells a new command from a prompt redrawn for an empty line: bash's number of
//! the last history entry, or for busybox sh (whose history has no numbers that keep growing) a
//! digest of the whole history list. The first prompt only sets the baseline, since the history
//! loaded from an earlier session's file already has a last command.

/// The OSC number Slipway's hook uses (no terminal assigns it a meaning).
const OSC_PREFIX: &[u8] = b"\x1b]6973;";

/// A hook sequence longer than this is not one of ours (a command line of a megabyte is not
/// typed); its bytes go back to the output instead of being held forever.
const MAX_HOOK: usize = 1 << 20;

/// What the shell's hook reported at one prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// `$?` of the last command.
    pub status: i64,
    /// Changes when the history got a new entry: its number (bash) or a digest of the list (sh).
    pub history_mark: String,
    /// The last command as the history has it.
    pub command: String,
}

/// One piece of a terminal's output after the hook sequences were taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes for the screen.
    Output(Vec<u8>),
    /// A prompt reported by our own hook.
    Prompt(Prompt),
}

/// Splits a terminal's output into screen bytes and hook reports, across chunk boundaries.
#[derive(Debug)]
pub struct HookFilter {
    token: String,
    /// Bytes held back: a possible start of a hook sequence cut by a chunk boundary, or a hook
    /// sequence still waiting for its BEL.
    held: Vec<u8>,
}

impl HookFilter {
    pub fn new(token: &str) -> HookFilter {
        HookFilter {
            token: token.to_string(),
            held: Vec::new(),
        }
    }

    /// Feeds one chunk; returns what can be told already, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut out = Vec::with_capacity(chunk.len());
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        let mut i = 0;
        while i < data.len() {
            if data[i] != 0x1b {
                // Copy the run up to the next ESC in one go.
                let end = data[i..]
                    .iter()
                    .position(|b| *b == 0x1b)
                    .map_or(data.len(), |p| i + p);
                out.extend_from_slice(&data[i..end]);
                i = end;
                continue;
            }
            let rest = &data[i..];
            let known = rest.len().min(OSC_PREFIX.len());
            if rest[..known] != OSC_PREFIX[..known] {
                out.push(0x1b);
                i += 1;
                continue;
            }
            if known < OSC_PREFIX.len() {
                // A possible hook cut by the chunk boundary: wait for the rest.
                self.held = rest.to_vec();
                break;
            }
            let body = &rest[OSC_PREFIX.len()..];
            match find_terminator(body) {
                Some((end, terminator_len)) => {
                    let whole = OSC_PREFIX.len() + end + terminator_len;
                    match self.parse(&body[..end]) {
                        Some(prompt) => {
                            if !out.is_empty() {
                                pieces.push(Piece::Output(std::mem::take(&mut out)));
                            }
                            pieces.push(Piece::Prompt(prompt));
                        }
                        // Not ours: the program's own bytes, for the screen.
                        None => out.extend_from_slice(&rest[..whole]),
                    }
                    i += whole;
                }
                None if rest.len() > MAX_HOOK => {
                    out.extend_from_slice(rest);
                    i = data.len();
                }
                None => {
                    self.held = rest.to_vec();
                    break;
                }
            }
        }
        if !out.is_empty() {
            pieces.push(Piece::Output(out));
        }
        pieces
    }

    /// Whatever is still held back, for when the output ends.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }

    /// `token;status;mark;command` when the token is ours.
    fn parse(&self, body: &[u8]) -> Option<Prompt> {
        let text = String::from_utf8_lossy(body);
        let mut parts = text.splitn(4, ';');
        if parts.next()? != self.token {
            return None;
        }
        let status = parts.next()?.trim().parse().ok()?;
        let history_mark = parts.next()?.trim().to_string();
        let command = parts.next().unwrap_or("").trim().to_string();
        Some(Prompt {
            status,
            history_mark,
            command,
        })
    }
}

/// Where an OSC body ends: BEL, or ST (`ESC \`); (offset, terminator length).
fn find_terminator(body: &[u8]) -> Option<(usize, usize)> {
    for (i, b) in body.iter().enumerate() {
        match b {
            0x07 => return Some((i, 1)),
            0x1b if body.get(i + 1) == Some(&b'\\') => return Some((i, 2)),
            _ => {}
        }
    }
    None
}

/// Turns prompts into the commands to record: a command is new when the history mark moved.
#[derive(Debug, Default)]
pub struct CommandTracker {
    last_mark: Option<String>,
}

impl CommandTracker {
    /// The command that `prompt` reports as just finished, with its exit code, if any.
    pub fn finished(&mut self, prompt: &Prompt) -> Option<(String, i64)> {
        let previous = self.last_mark.replace(prompt.history_mark.clone());
        let moved = previous.is_some_and(|mark| mark != prompt.history_mark);
        (moved && !prompt.command.is_empty()).then(|| (prompt.command.clone(), prompt.status))
    }
}

/// The shell command that starts the terminal's shell with the hook: bash when the image has it
/// (its history and `PROMPT_COMMAND`), else `sh` (busybox ash: its `history` builtin, read by a
/// command substitution in `PS1` that writes the sequence to the TTY and adds nothing to the
/// prompt, so line editing still knows the prompt's width). The startup file comes in on fd 3 from a here-document, so nothing is
/// written into the container and the token never reaches the environment; it closes fd 3.
///
/// In bash the user's `~/.bashrc` still runs first; then the hook goes before any
/// `PROMPT_COMMAND` it set (so `$?` is the command's), and `HISTCONTROL`/`HISTIGNORE` are
/// cleared, since a command left out of the history (a repeated one, one typed after a space)
/// would be left out of the log.
pub fn shell_command(token: &str) -> String {
    format!(
        r#"if command -v bash >/dev/null 2>&1; then
exec bash --rcfile /dev/fd/3 -i 3<<'SLIPWAY_RC'
[ -f ~/.bashrc ] && . ~/.bashrc
HISTCONTROL=
HISTIGNORE=
__slipway_hook() {{
  local s=$? h
  h=$(HISTTIMEFORMAT= builtin history 1)
  h="${{h#"${{h%%[![:space:]]*}}"}}"
  builtin printf '\033]6973;{token};%s;%s;%s\007' "$s" "${{h%%[!0-9]*}}" "${{h#*[0-9][ *] }}"
  return $s
}}
PROMPT_COMMAND="__slipway_hook${{PROMPT_COMMAND:+;$PROMPT_COMMAND}}"
exec 3<&-
SLIPWAY_RC
fi
export ENV=/dev/fd/3
exec sh -i 3<<'SLIPWAY_RC'
unset ENV
PS1='$(s=$?; h=$(history); printf "\033]6973;{token};%s;%s;%s\007" "$s" "$(printf %s "$h" | md5sum)" "$(printf %s "$h" | tail -n 1 | sed "s/^ *[0-9]* //")" >&2)# '
exec 3<&-
SLIPWAY_RC
"#
    )
}

/// A random token for one session: 128 bits from the kernel, hex.
pub fn new_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom (not Linux): the standard library's per-process random hash keys.
        use std::hash::{BuildHasher, Hasher};
        for half in bytes.chunks_mut(8) {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos()));
            half.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(token: &str, status: i64, number: u64, command: &str) -> Vec<u8> {
        format!("\x1b]6973;{token};{status};{number};{command}\x07").into_bytes()
    }

    fn output_of(pieces: &[Piece]) -> Vec<u8> {
        pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Output(bytes) => Some(bytes.clone()),
                Piece::Prompt(_) => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn our_hook_is_taken_out_and_reported_even_when_cut_anywhere() {
        let mut stream = b"hello\r\n\x1b[31mred\x1b[0m".to_vec();
        stream.extend(hook("t0k", 1, 7, "false; echo a;b"));
        stream.extend(b"root@box:/# ");
        for cut in 0..stream.len() {
            let mut filter = HookFilter::new("t0k");
            let mut pieces = filter.feed(&stream[..cut]);
            pieces.extend(filter.feed(&stream[cut..]));
            assert!(filter.finish().is_empty());
            assert_eq!(
                output_of(&pieces),
                b"hello\r\n\x1b[31mred\x1b[0mroot@box:/# ".to_vec(),
                "cut at {cut}"
            );
            let prompts: Vec<_> = pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Prompt(p) => Some(p.clone()),
                    Piece::Output(_) => None,
                })
                .collect();
            assert_eq!(
                prompts,
                vec![Prompt {
                    status: 1,
                    history_mark: "7".into(),
                    command: "false; echo a;b".into()
                }]
            );
        }
    }

    #[test]
    fn a_hook_without_our_token_stays_output_and_records_nothing() {
        let mut filter = HookFilter::new("secret");
        let forged = hook("guess", 0, 99, "rm -rf /");
        let pieces = filter.feed(&forged);
        assert_eq!(pieces, vec![Piece::Output(forged)]);
    }

    #[test]
    fn an_unterminated_look_alike_is_given_back() {
        let mut filter = HookFilter::new("t");
        assert!(filter.feed(b"\x1b]6973;t;0;1;ls").is_empty());
        assert_eq!(filter.finish(), b"\x1b]6973;t;0;1;ls".to_vec());
        let mut filter = HookFilter::new("t");
        let mut huge = b"\x1b]6973;".to_vec();
        huge.extend(vec![b'x'; MAX_HOOK + 1]);
        assert_eq!(output_of(&filter.feed(&huge)).len(), huge.len());
    }

    #[test]
    fn a_command_is_recorded_when_the_history_moves() {
        let prompt = |n: u64, command: &str, status: i64| Prompt {
            status,
            history_mark: n.to_string(),
            command: command.into(),
        };
        let mut tracker = CommandTracker::default();
        // The first prompt shows the previous session's last command: baseline only.
        assert_eq!(tracker.finished(&prompt(41, "old", 0)), None);
        assert_eq!(
            tracker.finished(&prompt(42, "false", 1)),
            Some(("false".into(), 1))
        );
        // Enter on an empty line: the same history entry again.
        assert_eq!(tracker.finished(&prompt(42, "false", 0)), None);
        assert_eq!(
            tracker.finished(&prompt(43, "false", 1)),
            Some(("false".into(), 1))
        );
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
