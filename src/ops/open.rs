//! The `open` operation: the console's address for the running stack, with its token.

use crate::components::console;
use crate::running::RunningStack;
use crate::stack::StatePaths;

/// The console of the stack running in `paths`, as a URL carrying its token (the page
/// exchanges it for a cookie at once). An error says why there is none.
pub async fn console_url(paths: &StatePaths) -> anyhow::Result<String> {
    let stack = RunningStack::find(paths).await?;
    let Some(base) = stack.endpoint(console::HTTP) else {
        anyhow::bail!(
            "this stack runs without its console (`[console] enabled = false` or `--without console`); \
             `obsdemo down` and `obsdemo up` serve it"
        );
    };
    token_url(base, paths)
}

/// `base` with the stack's token.
pub fn token_url(base: &str, paths: &StatePaths) -> anyhow::Result<String> {
    let file = paths.console_token();
    let token = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("cannot read the console's token {}: {e}", file.display()))?;
    Ok(format!("{}/?token={}", base.trim_end_matches('/'), token.trim()))
}
