//! `obsdemo open`: open the running stack's console in the default browser (or, with
//! `--print`, print its URL with the token).

use clap::Args;

use super::Global;
use super::exit::Code;
use crate::error::{Error, Interrupted};
use crate::runtime::CancellationToken;

/// Arguments of `open`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  obsdemo open
  obsdemo open --print        the URL alone, with its token (for another browser or machine)")]
pub struct OpenArgs {
    /// Print the URL instead of opening a browser.
    #[arg(long)]
    print: bool,
}

/// Runs `open`.
pub async fn run(args: OpenArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let paths = global.paths()?;
    let url = tokio::select! {
        url = crate::ops::open::console_url(&paths) => url?,
        () = shutdown.cancelled() => return Err(Error::from(Interrupted).into()),
    };
    if args.print {
        println!("{url}");
        return Ok(Code::Success);
    }
    match crate::platform::open_in_browser(&url) {
        Ok(()) => eprintln!("opened the console in your browser"),
        Err(e) => eprintln!("cannot start a browser ({e}); open this URL yourself:\n{url}"),
    }
    Ok(Code::Success)
}
