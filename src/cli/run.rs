//! `obsdemo run -- CMD ARGS...`: one command in the foreground with the running
//! stack's OpenTelemetry variables set; Ctrl-C reaches it, and its exit code is ours.

use std::ffi::OsString;

use clap::Args;

use super::Global;
use super::exit::Code;
use crate::error::Error;
use crate::runtime::CancellationToken;
use crate::stack::OtlpProtocol;

/// Arguments of `run`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  obsdemo run --name Order-service -- python manage.py runserver 127.0.0.1:8101 --noreload
  obsdemo run --name checkout -- node server.js
  obsdemo run --name dispatch --protocol http -- ./dispatch   an SDK that speaks OTLP over HTTP

The command's exit code is obsdemo's; killed by a signal N, obsdemo exits 128+N.")]
pub struct RunArgs {
    /// Its service name (OTEL_SERVICE_NAME).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The OTLP transport its SDK speaks: grpc (port 4317) or http (4318).
    #[arg(long, value_name = "grpc|http", default_value = "grpc", value_parser = super::env::parse_protocol)]
    protocol: OtlpProtocol,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Runs `run`.
pub async fn run(args: RunArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let paths = global.paths()?;
    let vars =
        crate::ops::env::running_stack_env(&paths, args.name.as_deref(), args.protocol).await.map_err(Error::from)?;
    Ok(Code::Exited(crate::ops::env::run_program(&args.command, vars, &shutdown).await?))
}
