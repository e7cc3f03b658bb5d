//! `obsdemo env`: the OpenTelemetry variables that point any process at the running
//! stack, in the syntax of the shell that will read them.

use clap::{Args, ValueEnum};

use super::Global;
use super::exit::Code;
use crate::error::Error;
use crate::runtime::CancellationToken;
use crate::stack::OtlpProtocol;

/// Arguments of `env`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  eval \"$(obsdemo env --name my-service)\"                 sh, bash, zsh
  obsdemo env --format fish --name my-service | source
  obsdemo env --format powershell --name my-service | Invoke-Expression
  obsdemo env --format dotenv > .env
  obsdemo env --protocol http --name my-service       an SDK that speaks OTLP over HTTP
  obsdemo env --format json")]
pub struct EnvArgs {
    /// The syntax to print.
    #[arg(long, value_enum, default_value_t = Format::native())]
    format: Format,
    /// Also set OTEL_SERVICE_NAME to this.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The OTLP transport the program's SDK speaks: grpc (port 4317) or http (4318).
    #[arg(long, value_name = "grpc|http", default_value = "grpc", value_parser = parse_protocol)]
    protocol: OtlpProtocol,
}

/// `grpc` or `http` (or an SDK's own `http/protobuf`), for `--protocol`.
pub fn parse_protocol(text: &str) -> Result<OtlpProtocol, String> {
    OtlpProtocol::from_sdk_setting(text).ok_or_else(|| format!("`{text}` is not an OTLP transport: use grpc or http"))
}

/// How the variables are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `export K='v'` (sh, bash, zsh).
    Sh,
    /// `set -gx K 'v'`.
    Fish,
    /// `$env:K = 'v'`.
    Powershell,
    /// `set "K=v"` (cmd.exe).
    Cmd,
    /// `K="v"` lines for a .env file.
    Dotenv,
    /// One JSON object.
    Json,
}

impl Format {
    /// The shell of this operating system.
    fn native() -> Self {
        if cfg!(windows) { Self::Powershell } else { Self::Sh }
    }

    /// `vars` written in this syntax.
    pub fn write(self, vars: &[(String, String)]) -> String {
        let quoted = |v: &str, quote: char, escaped: &str| format!("{quote}{}{quote}", v.replace(quote, escaped));
        if self == Self::Json {
            let object: serde_json::Map<String, serde_json::Value> =
                vars.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect();
            return serde_json::Value::Object(object).to_string() + "\n";
        }
        vars.iter()
            .map(|(k, v)| match self {
                Self::Sh => format!("export {k}={}\n", quoted(v, '\'', "'\\''")),
                Self::Fish => format!("set -gx {k} {}\n", quoted(&v.replace('\\', "\\\\"), '\'', "\\'")),
                Self::Powershell => format!("$env:{k} = {}\n", quoted(v, '\'', "''")),
                Self::Cmd => format!("set \"{k}={v}\"\n"),
                Self::Dotenv => format!("{k}={}\n", quoted(&v.replace('\\', "\\\\"), '"', "\\\"")),
                Self::Json => unreachable!("handled above"),
            })
            .collect()
    }
}

/// Runs `env`.
pub async fn run(args: EnvArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let paths = global.paths()?;
    let vars = tokio::select! {
        vars = crate::ops::env::running_stack_env(&paths, args.name.as_deref(), args.protocol) => vars,
        () = shutdown.cancelled() => return Err(Error::from(crate::error::Interrupted).into()),
    };
    let vars = vars.map_err(Error::from)?;
    print!("{}", args.format.write(&vars));
    Ok(Code::Success)
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn every_syntax_quotes_what_would_break_it() {
        let vars = vec![("OTEL_SERVICE_NAME".to_owned(), r#"it's "a\b""#.to_owned())];
        assert_eq!(Format::Sh.write(&vars), "export OTEL_SERVICE_NAME='it'\\''s \"a\\b\"'\n");
        assert_eq!(Format::Fish.write(&vars), "set -gx OTEL_SERVICE_NAME 'it\\'s \"a\\\\b\"'\n");
        assert_eq!(Format::Powershell.write(&vars), "$env:OTEL_SERVICE_NAME = 'it''s \"a\\b\"'\n");
        assert_eq!(Format::Cmd.write(&vars), "set \"OTEL_SERVICE_NAME=it's \"a\\b\"\"\n");
        assert_eq!(Format::Dotenv.write(&vars), "OTEL_SERVICE_NAME=\"it's \\\"a\\\\b\\\"\"\n");
        let json: serde_json::Value = serde_json::from_str(&Format::Json.write(&vars)).unwrap();
        assert_eq!(json["OTEL_SERVICE_NAME"], r#"it's "a\b""#);
    }
}
