//! The `imgbatch` command line: `serve`, `worker`, `migrate` and `openapi`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{Application, Config, startup::Roles};

/// imgbatch: compresses the product images listed in a merchant's CSV and calls a signed webhook.
#[derive(Debug, Parser)]
#[command(name = "imgbatch", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API with in-process workers; migrates the database first.
    Serve {
        #[command(flatten)]
        config: Config,
        /// Serve the API only, without workers.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run workers only (no HTTP API).
    Worker {
        #[command(flatten)]
        config: Config,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Print the OpenAPI document (JSON) and exit.
    Openapi,
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", crate::api::openapi::openapi_json());
        return ExitCode::SUCCESS;
    }
    crate::telemetry::init();
    crate::pipeline::compress::tune_allocator();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { config, no_workers } => {
                let roles = Roles { api: true, workers: !no_workers };
                serve(config, roles).await
            }
            Command::Worker { config } => serve(config, Roles { api: false, workers: true }).await,
            Command::Migrate { config } => migrate(config).await,
            Command::Openapi => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imgbatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config, roles: Roles) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let app = Application::build_with(config, roles).await?;
    if roles.api {
        tracing::info!(address = %app.address(), "imgbatch listening");
        println!("imgbatch listening on http://{}", app.address());
    }
    let stopper = app.stopper();
    tokio::spawn(async move {
        crate::telemetry::shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight images");
        stopper.cancel();
    });
    app.run_until_stopped().await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let db = crate::db::connect(&config.database_url).await?;
    crate::db::migrate(&db).await?;
    println!("migrations applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
