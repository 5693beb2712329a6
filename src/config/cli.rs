//! The command line: `greeter [serve] [OPTIONS]`, `greeter check-config`, `greeter openapi`,
//! `greeter healthcheck`; with `--config FILE`, the file's settings under the flags and
//! environment variables given ([`Cli::load`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::bounds;
use crate::config::config_file::{self, SettingKey, UPSTREAMS_KEY};
use crate::config::serve::{DEFAULT_PORT, ServeSettings};

/// The editions `greeter openapi --spec-version` takes (the API's `SpecVersion` parses each).
pub const SPEC_VERSIONS: [&str; 2] = ["3.1", "3.0"];

/// The command line: `greeter [serve] [OPTIONS]` or `greeter openapi`.
#[derive(Debug, Parser)]
#[command(
    name = "greeter",
    version,
    about = "FastAPI's first example rebuilt in Rust: GET / answers {\"Hello\":\"World\"} after a \
             simulated, non-blocking I/O wait; Swagger UI at /docs, ReDoc at /redoc, the spec at \
             /openapi.json.",
    args_conflicts_with_subcommands = true,
    after_help = "Logging: RUST_LOG sets the log filter (default: info), e.g. RUST_LOG=warn; \
                  actix_server's own lines show only where it names them \
                  (RUST_LOG=info,actix_server=info)."
)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeSettings,
    /// Where each server setting's value came from, in `--help` order (`greeter check-config`
    /// prints it).
    #[arg(skip)]
    pub origins: Vec<Resolved>,
}

/// A server setting as resolved: its key (the flag's long name with `_` for `-`), its values,
/// and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The key, as the configuration file names it.
    pub key: String,
    /// Whether it takes a list.
    pub list: bool,
    /// The values, as written (none for a setting left unset).
    pub values: Vec<String>,
    /// Where they came from.
    pub origin: Origin,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Its default (or unset).
    Default,
    /// The configuration file, at this line.
    File(usize),
    /// The environment variable of this name.
    Environment(String),
    /// The command line.
    Flag,
}

/// Why the command line, with its configuration file, cannot be read.
#[derive(Debug)]
pub enum LoadError {
    /// A flag or an environment variable is wrong, or `--help` or `--version` was asked for.
    Cli(clap::Error),
    /// The configuration file: one line naming the file, the line and the key.
    File(String),
}

impl Cli {
    /// The command to run, `serve` with the top-level settings when none was named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }

    /// Reads `args` (the program's name first) and the environment, and with `--config FILE`
    /// (or `GREETER_CONFIG`) the file beneath them: a setting given as a flag or in the
    /// environment overrides the file's, and `--upstream` (or `GREETER_UPSTREAMS`) replaces its
    /// upstreams. A value from the file passes the same parser as the flag. `greeter
    /// healthcheck` reads the file's `port`.
    pub fn load<I, T>(args: I) -> Result<Self, LoadError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command = Self::command();
        let matches = command
            .clone()
            .try_get_matches_from(&args)
            .map_err(LoadError::Cli)?;
        let subcommand = match matches.subcommand() {
            Some((name @ ("serve" | "check-config" | "healthcheck"), _)) => Some(name.to_owned()),
            Some(_) => return Self::from_arg_matches(&matches).map_err(LoadError::Cli),
            None => None,
        };
        let this_command = match &subcommand {
            Some(name) => command.find_subcommand(name).unwrap_or(&command),
            None => &command,
        };
        let this_matches = matches.subcommand().map_or(&matches, |(_, m)| m);
        let Some(path) = this_matches.get_one::<PathBuf>("config").cloned() else {
            let mut cli = Self::from_arg_matches(&matches).map_err(LoadError::Cli)?;
            cli.origins = origins(this_command, this_matches, &BTreeMap::new());
            return Ok(cli);
        };
        // What the file may give: the server's settings (`healthcheck` takes `port` of them).
        let serve_keys: Vec<(String, bool)> = setting_args(&command)
            .map(|arg| (file_key(arg), is_list(arg)))
            .filter(|(key, _)| key != UPSTREAMS_KEY)
            .collect();
        let known: Vec<SettingKey<'_>> = serve_keys
            .iter()
            .map(|(key, list)| SettingKey { key, list: *list })
            .collect();
        let mut given = BTreeMap::new();
        for arg in setting_args(this_command) {
            let id = arg.get_id().as_str();
            let key = file_key(arg);
            let was_given = matches!(
                this_matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if !was_given || !(key == UPSTREAMS_KEY || known.iter().any(|k| k.key == key)) {
                continue;
            }
            let values = this_matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .map(|value| {
                    value.to_str().map(str::to_owned).ok_or_else(|| {
                        LoadError::File(format!(
                            "the value of --{} is not UTF-8, which --config cannot layer",
                            arg.get_long().unwrap_or(id)
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            given.insert(key, values);
        }
        let layered = config_file::layer(&path, &given, &known).map_err(LoadError::File)?;

        // The layered settings, as flags, for clap to read as it reads any.
        let mut argv: Vec<OsString> = args.iter().take(1).cloned().collect();
        argv.extend(subcommand.iter().map(OsString::from));
        let mut config = OsString::from("--config=");
        config.push(&path);
        argv.push(config);
        let long_of = |key: &str| {
            setting_args(this_command)
                .find(|arg| file_key(arg) == key)
                .and_then(|arg| arg.get_long())
        };
        for (key, values) in &layered.settings {
            let Some(long) = long_of(key) else { continue };
            argv.extend(
                values
                    .iter()
                    .map(|value| format!("--{long}={value}").into()),
            );
        }
        let final_matches = command
            .clone()
            .try_get_matches_from(&argv)
            .map_err(|error| {
                let flag = match error.get(clap::error::ContextKind::InvalidArg) {
                    Some(clap::error::ContextValue::String(arg)) => arg.clone(),
                    _ => String::new(),
                };
                let flag = flag.split([' ', '=']).next().unwrap_or_default();
                let from_file = layered
                    .from_file
                    .iter()
                    .find(|(key, _)| long_of(key).is_some_and(|long| flag == format!("--{long}")));
                match from_file {
                    Some((key, line)) => {
                        let rendered = error.to_string();
                        let first = rendered.lines().next().unwrap_or_default();
                        let why = first.strip_prefix("error: ").unwrap_or(first);
                        LoadError::File(config_file::one_line(&format!(
                            "{}:{line}: {key}: {why}",
                            path.display()
                        )))
                    }
                    None => LoadError::Cli(error),
                }
            })?;
        let mut cli = Self::from_arg_matches(&final_matches).map_err(LoadError::Cli)?;
        // The values as clap read them; where each came from, as first given or the file.
        let given_origins = origins(this_command, this_matches, &layered.from_file);
        let final_settings = final_matches
            .subcommand()
            .map_or(&final_matches, |(_, m)| m);
        cli.origins = origins(this_command, final_settings, &layered.from_file)
            .into_iter()
            .zip(given_origins)
            .map(|(resolved, given)| Resolved {
                origin: given.origin,
                ..resolved
            })
            .collect();
        // The upstreams, the file's unless `--upstream` or `GREETER_UPSTREAMS` replaced them,
        // and the parameters.
        let settings = match &mut cli.command {
            Some(Command::Serve(settings) | Command::CheckConfig(settings)) => settings,
            Some(_) => return Ok(cli),
            None => &mut cli.serve,
        };
        settings.upstreams = layered.upstreams;
        settings.parameters = layered.parameters;
        if let Some(upstreams) = cli.origins.iter_mut().find(|o| o.key == UPSTREAMS_KEY) {
            upstreams.values = settings.upstreams.iter().map(|u| u.to_string()).collect();
        }
        Ok(cli)
    }
}

/// `message` (an error naming a flag) with the configuration file's line and key in front
/// when the first flag it names took its value from the file; on one line.
pub fn place_error(
    message: &str,
    origins: &[Resolved],
    config: Option<&std::path::Path>,
) -> String {
    let message = config_file::one_line(message);
    let Some(config) = config else {
        return message;
    };
    let flags = message
        .match_indices("--")
        .map(|(at, _)| &message[at + 2..])
        .map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .unwrap_or(rest.len());
            rest[..end].replace('-', "_")
        });
    for key in flags {
        if let Some(Resolved {
            origin: Origin::File(line),
            ..
        }) = origins.iter().find(|r| r.key == key)
        {
            return format!("{}:{line}: {key}: {message}", config.display());
        }
    }
    message
}

/// The settings among `command`'s arguments: all but `--help`, `--version` and `--config`.
fn setting_args(command: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    command.get_arguments().filter(|arg| {
        !matches!(arg.get_id().as_str(), "help" | "version" | "config") && arg.get_long().is_some()
    })
}

/// A setting's key in the configuration file: its flag's long name with `_` for `-`.
fn file_key(arg: &clap::Arg) -> String {
    arg.get_long().unwrap_or_default().replace('-', "_")
}

/// Whether a setting takes a list (its flag repeats).
fn is_list(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), clap::ArgAction::Append)
}

/// Where each setting of `command` came from in `matches`; `from_file` names those the
/// configuration file gave, by key.
fn origins(
    command: &clap::Command,
    matches: &ArgMatches,
    from_file: &BTreeMap<String, usize>,
) -> Vec<Resolved> {
    setting_args(command)
        .map(|arg| {
            let id = arg.get_id().as_str();
            let key = file_key(arg);
            let values = matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .map(|value| value.to_string_lossy().into_owned())
                .collect();
            let origin = match (from_file.get(&key), matches.value_source(id)) {
                (Some(line), _) => Origin::File(*line),
                (None, Some(ValueSource::EnvVariable)) => Origin::Environment(
                    arg.get_env()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                ),
                (None, Some(ValueSource::CommandLine)) => Origin::Flag,
                _ => Origin::Default,
            };
            Resolved {
                list: is_list(arg),
                key,
                values,
                origin,
            }
        })
        .collect()
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// Made once per process, so the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeSettings),
    /// Check the settings as `serve` would read them (flags, environment, `--config` file, the
    /// files they name) and print them resolved, secrets redacted: exit 0, or 2 with one line
    /// naming what is wrong. Binds no port.
    CheckConfig(ServeSettings),
    /// Print the OpenAPI document to stdout and exit, without binding a port.
    Openapi {
        /// Which edition: 3.1 as generated, or 3.0.3 for generators that read only 3.0
        /// (`crate::api::openapi::SpecVersion` reads it).
        #[arg(long, default_value = "3.1", value_parser = SPEC_VERSIONS)]
        spec_version: String,
    },
    /// Ask a running greeter whether it is up, for a container's HEALTHCHECK: exit 0 when
    /// `GET /healthz` answers 200, 1 otherwise (one line says why).
    Healthcheck {
        /// The URL to ask (http:// only); by default `/healthz` on 127.0.0.1 at --port.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// The port of the default URL, 1 to 65535: the server's own setting.
        #[arg(long, env = "GREETER_PORT", default_value_t = DEFAULT_PORT,
              value_parser = |s: &str| bounds::of("healthcheck --port").count(s).map(|n| n as u16))]
        port: u16,
        /// A configuration file whose `port` is the default URL's (as `greeter --config`).
        #[arg(long, env = "GREETER_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// The longest the whole check may take, 1ms to 1h.
        #[arg(long, value_name = "DURATION", default_value = "2s",
              value_parser = |s: &str| bounds::of("healthcheck --timeout").duration(s))]
        timeout: humantime::Duration,
    },
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;
    use crate::config::{Mount, default_workers};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        match Cli::load(std::iter::once("greeter").chain(args.iter().copied())) {
            Ok(cli) => Ok(cli.into_command()),
            Err(LoadError::Cli(error)) => Err(error),
            Err(LoadError::File(message)) => panic!("{message}"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_top_level_flags() {
        let Command::Serve(s) = parse(&["--port", "9001", "--io-delay", "250ms"]).unwrap() else {
            panic!("expected serve");
        };
        assert_eq!(s.port, 9001);
        assert_eq!(Duration::from(s.io_delay), Duration::from_millis(250));
    }

    #[test]
    fn serve_subcommand_takes_the_same_flags() {
        let Command::Serve(s) = parse(&["serve", "--workers", "3", "--host", "::1"]).unwrap()
        else {
            panic!("expected serve");
        };
        assert_eq!(s.workers.get(), 3);
        assert_eq!(s.host, "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn backlog_accepts_its_whole_range() {
        for backlog in ["1", "65535"] {
            let Command::Serve(s) = parse(&["--backlog", backlog]).unwrap() else {
                panic!("expected serve");
            };
            assert_eq!(s.backlog.to_string(), backlog);
        }
    }

    #[test]
    fn max_body_reads_human_sizes() {
        for (input, bytes) in [
            ("64KiB", 65536),
            ("1 MiB", 1 << 20),
            ("512", 512),
            ("2kb", 2000),
        ] {
            let Command::Serve(s) = parse(&["--max-body", input]).unwrap() else {
                panic!("expected serve");
            };
            assert_eq!(s.max_body_bytes(), bytes, "{input}");
        }
    }

    #[test]
    fn docs_and_spec_paths_take_a_path_or_off() {
        let Command::Serve(s) = parse(&[]).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.docs_path.to_string(), "/docs");
        assert_eq!(s.openapi_path.to_string(), "/openapi.json");
        assert_eq!(s.root_path, None);

        let args = [
            "--docs-path",
            "off",
            "--openapi-path",
            "/api/spec.json",
            "--root-path",
            "/api/v1",
        ];
        let Command::Serve(s) = parse(&args).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.docs_path, Mount::Off);
        assert_eq!(s.openapi_path.path().unwrap().as_str(), "/api/spec.json");
        assert_eq!(s.root_path.unwrap().as_str(), "/api/v1");
    }

    #[test]
    fn limits_accept_their_edges() {
        let args = [
            "--max-header-size",
            "1KiB",
            "--max-uri-length",
            "32KiB",
            "--head-timeout",
            "100ms",
            "--keep-alive",
            "0s",
            "--max-connections",
            "1",
            "--shutdown-timeout",
            "1500ms",
        ];
        let Command::Serve(s) = parse(&args).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.max_header_bytes(), 1024);
        assert_eq!(s.max_uri_bytes(), 32768);
        assert_eq!(Duration::from(s.head_timeout), Duration::from_millis(100));
        assert!(Duration::from(s.keep_alive).is_zero());
        assert_eq!(s.max_connections().get(), 1);
        assert_eq!(s.shutdown_timeout_secs(), 2, "rounded up");
        let Command::Serve(s) = parse(&["--max-header-size", "96KiB"]).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.max_header_bytes(), 96 * 1024);
    }

    /// The arguments that give `bound`'s flag `value`, with what else it needs.
    fn args_for(bound: &bounds::Bound, value: &str) -> Vec<String> {
        let mut args = Vec::new();
        let flag = match bound.flag.strip_prefix("healthcheck ") {
            Some(flag) => {
                args.push("healthcheck".to_owned());
                flag
            }
            None => bound.flag,
        };
        if flag == "--rate-limit-burst" {
            args.extend(["--rate-limit".to_owned(), "1/s".to_owned()]);
        }
        args.extend([flag.to_owned(), value.to_owned()]);
        args
    }

    #[test]
    fn every_numeric_setting_holds_at_and_past_both_edges() {
        for bound in bounds::BOUNDS {
            let (inside, outside) = bound.edges();
            for value in &inside {
                let args = args_for(bound, value);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                assert!(parse(&args).is_ok(), "{args:?} is refused");
            }
            assert!(!outside.is_empty() || bound.min == "0", "{}", bound.flag);
            for value in &outside {
                let args = args_for(bound, value);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let err = parse(&args).expect_err(&format!("{args:?} is accepted"));
                assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
                let message = err.to_string();
                assert!(
                    message.contains(&format!("from {} to {}", bound.min, bound.max))
                        || message.contains("not a whole number"),
                    "{args:?}: {message}"
                );
            }
        }
    }

    #[test]
    fn help_states_every_numeric_settings_range() {
        let mut serve = Cli::command();
        let serve_help = serve.render_long_help().to_string();
        let mut healthcheck = Cli::command();
        let healthcheck_help = healthcheck
            .find_subcommand_mut("healthcheck")
            .unwrap()
            .render_long_help()
            .to_string();
        for bound in bounds::BOUNDS {
            let (help, flag) = match bound.flag.strip_prefix("healthcheck ") {
                Some(flag) => (&healthcheck_help, flag),
                None => (&serve_help, bound.flag),
            };
            // The flag's paragraph: from its line to the next flag's.
            let start = help
                .find(&format!("      {flag} "))
                .unwrap_or_else(|| panic!("{} is not in --help", bound.flag));
            let rest = &help[start + 6..];
            let paragraph = &rest[..rest.find("\n  -").unwrap_or(rest.len())];
            let paragraph = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
            let range = format!("{} to {}", bound.min, bound.max);
            assert!(
                paragraph.contains(&range),
                "the help of {} does not say {range}: {paragraph}",
                bound.flag
            );
        }
    }

    #[test]
    fn the_default_workers_stay_within_actix_servers_limit() {
        assert!(default_workers().get() <= 512);
        assert_eq!(bounds::of("--workers").largest(), 512);
    }

    #[test]
    fn openapi_subcommand_parses() {
        for (args, edition) in [
            (&["openapi"][..], "3.1"),
            (&["openapi", "--spec-version", "3.0"], "3.0"),
        ] {
            let Command::Openapi { spec_version } = parse(args).unwrap() else {
                panic!("expected openapi");
            };
            assert_eq!(spec_version, edition);
        }
        assert!(parse(&["openapi", "--spec-version", "2.0"]).is_err());
    }

    #[test]
    fn bad_values_are_rejected_by_name() {
        for (args, flag) in [
            (&["--port", "70000"][..], "--port"),
            (&["--workers", "0"][..], "--workers"),
            (&["--io-delay", "soon"][..], "--io-delay"),
            (&["--host", "not-an-ip"][..], "--host"),
            (&["--backlog", "0"][..], "--backlog"),
            (&["--backlog", "65536"][..], "--backlog"),
            (&["--max-body", "0"][..], "--max-body"),
            (&["--max-body", "lots"][..], "--max-body"),
            (&["--max-header-size", "1023"][..], "--max-header-size"),
            (&["--max-header-size", "97KiB"][..], "--max-header-size"),
            (&["--max-uri-length", "255"][..], "--max-uri-length"),
            (&["--head-timeout", "0s"][..], "--head-timeout"),
            (&["--keep-alive", "forever"][..], "--keep-alive"),
            (&["--max-connections", "0"][..], "--max-connections"),
            (&["--shutdown-timeout", "-1s"][..], "--shutdown-timeout"),
            (&["--docs-path", "docs"][..], "--docs-path"),
            (&["--docs-path", "/docs/"][..], "--docs-path"),
            (&["--docs-path", "/"][..], "--docs-path"),
            (&["--openapi-path", "/a//b"][..], "--openapi-path"),
            (&["--openapi-path", "/a/../b"][..], "--openapi-path"),
            (&["--root-path", "/api/{v}"][..], "--root-path"),
            (&["--root-path", "/api v1"][..], "--root-path"),
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            assert!(err.to_string().contains(flag), "{args:?}: {err}");
        }
    }
}
