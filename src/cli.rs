//! The `imgbatch` command line: `serve`, `worker`, `migrate` and `openapi` run the service;
//! `submit`, `status` and `login` are a client of a running one, and `demo` runs both locally.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Manage accounts.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Print a bearer token for a tenant, signed with the server's token key.
    Token {
        #[command(flatten)]
        config: Config,
        /// The tenant id (`sub`).
        #[arg(long)]
        sub: String,
        /// How long it lasts (e.g. `1h`, `30m`, `7d`).
        #[arg(long, default_value = "1h", value_parser = crate::config::parse_duration)]
        ttl: std::time::Duration,
    },
    /// Print the OpenAPI document (JSON) and exit.
    Openapi,
    /// Upload a product CSV to a running server and print its request id. Exit status with
    /// `--wait`: 0 completed, 2 completed with errors, 1 failed or refused.
    Submit {
        /// The CSV: `S. No.,Product Name,Input Image Urls`.
        file: std::path::PathBuf,
        #[command(flatten)]
        server: crate::client::Server,
        #[command(flatten)]
        options: crate::client::SubmitOptions,
    },
    /// A fully local run: serves the sample images, starts the service in a temporary directory,
    /// submits the sample CSV with a progress bar and prints the output CSV.
    Demo {
        /// Stay up afterwards (until Ctrl-C) to try the API and Swagger UI.
        #[arg(long)]
        keep: bool,
    },
    /// Sign in with an email and password and keep the token (in the user's config directory,
    /// readable by the user only) for `submit` and `status`.
    Login {
        /// The account's email.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        server: crate::client::Server,
    },
    /// Print a request's status and counts. Exit status: as `submit --wait`, or 3 while running.
    Status {
        /// The request id.
        id: String,
        #[command(flatten)]
        server: crate::client::Server,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Make an account and print its tenant id and a first API key (shown once).
    Create {
        #[command(flatten)]
        config: Config,
        /// Its sign-in email.
        #[arg(long)]
        email: String,
        /// Read a password (first line of standard input) so that the account can also sign in
        /// with `POST /api/v1/auth/login`.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return bad_setting(e),
    };
    if let Command::Openapi = cli.command {
        println!("{}", crate::api::openapi::openapi_json());
        return ExitCode::SUCCESS;
    }
    match cli.command {
        // A client's output is its own; only warnings are logged (to standard error).
        Command::Submit { .. } | Command::Status { .. } | Command::Login { .. } | Command::Demo { .. } => {
            crate::telemetry::init_quiet()
        }
        _ => crate::telemetry::init(),
    }
    crate::pipeline::compress::tune_allocator();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async move {
        let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
        match cli.command {
            Command::Serve { config, no_workers } => {
                let roles = Roles { api: true, workers: !no_workers };
                done(serve(config, roles).await)
            }
            Command::Worker { config } => done(serve(config, Roles { api: false, workers: true }).await),
            Command::Migrate { config } => done(migrate(config).await),
            Command::Tenant { command: TenantCommand::Create { config, email, password_stdin } } => {
                done(crate::auth::admin::create_tenant(&config, &email, password_stdin).await)
            }
            Command::Token { config, sub, ttl } => done(crate::auth::admin::print_token(&config, &sub, ttl).await),
            Command::Submit { file, server, options } => crate::client::submit(file, server, options).await,
            Command::Status { id, server } => crate::client::status(id, server).await,
            Command::Login { email, server } => done(crate::client::login(&server, &email).await),
            Command::Demo { keep } => crate::demo::run(keep).await,
            Command::Openapi => unreachable!("handled above"),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imgbatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reports a value clap refused in one line naming the setting (its variable and flag).
fn bad_setting(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ErrorKind};
    if !matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        e.exit();
    }
    let flag = e.get(ContextKind::InvalidArg).map(|a| a.to_string()).unwrap_or_default();
    let long = flag.trim_start_matches("--").split([' ', '=']).next().unwrap_or_default().to_owned();
    let env = Cli::command()
        .get_subcommands()
        .flat_map(|c| c.get_arguments().cloned().collect::<Vec<_>>())
        .find(|a| a.get_long() == Some(long.as_str()))
        .and_then(|a| a.get_env().map(|v| v.to_string_lossy().into_owned()));
    let setting = match env {
        Some(env) => format!("{env} (--{long})"),
        None => format!("--{long}"),
    };
    let message = e.to_string();
    let reason = message.lines().next().unwrap_or_default().trim_start_matches("error: ");
    eprintln!("imgbatch: {setting}: {reason}");
    ExitCode::from(2)
}

async fn serve(config: Config, roles: Roles) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    check_roles(&config, roles).map_err(anyhow::Error::msg)?;
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

/// What a process that runs only part of the service needs: workers build the links in webhook
/// events, so they need the API's public URL; and split processes must share one queue.
fn check_roles(config: &Config, roles: Roles) -> Result<(), String> {
    if !roles.api && config.public_url.is_none() {
        return Err("IMGBATCH_PUBLIC_URL: required by `imgbatch worker` (webhook events link to the API)".into());
    }
    if !(roles.api && roles.workers) && config.redis_url.is_none() && !config.database_url.starts_with("sqlite") {
        return Err("REDIS_URL: required when API and workers run as separate processes on PostgreSQL".into());
    }
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = crate::db::connect(&config.database_url).await?;
    crate::db::migrate(&db).await?;
    println!("migrations applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn split_processes_need_a_public_url_and_a_shared_queue() {
        use super::{Config, Roles, check_roles};
        let worker = Roles { api: false, workers: true };
        let api_only = Roles { api: true, workers: false };
        let mut c = Config::defaults();
        assert!(check_roles(&c, worker).unwrap_err().starts_with("IMGBATCH_PUBLIC_URL"));
        c.public_url = Some("http://api.internal:8080".parse().unwrap());
        check_roles(&c, worker).unwrap();
        c.database_url = "postgres://db/imgbatch".into();
        assert!(check_roles(&c, api_only).unwrap_err().starts_with("REDIS_URL"));
        c.redis_url = Some("redis://redis:6379/".into());
        check_roles(&c, worker).unwrap();
        check_roles(&c, Roles { api: true, workers: true }).unwrap();
    }

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
