//! `redflag cluster scheduler|executor`: Ballista processes that know redflag's functions.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::prelude::SessionConfig;

use crate::cli::ClusterCommand;

pub fn run(cmd: ClusterCommand) -> Result<ExitCode> {
    // Ballista's planners recurse deeply on large plans; its own binaries give their runtime
    // threads 32 MB stacks.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
        .context("starting the async runtime")?;
    match cmd {
        ClusterCommand::Scheduler {
            bind,
            external_host,
        } => {
            let mut config = SchedulerConfig::default()
                .with_port(bind.port())
                .with_override_session_builder(Arc::new(|c: SessionConfig| {
                    Ok(redflag::cluster::session_state(c))
                }));
            config.bind_host = bind.ip().to_string();
            if let Some(host) = external_host {
                config = config.with_hostname(host);
            }
            eprintln!("redflag cluster scheduler: listening on {bind}");
            runtime
                .block_on(async {
                    let cluster = BallistaCluster::new_from_config(&config).await?;
                    start_server(cluster, bind, Arc::new(config)).await
                })
                .map_err(|e| anyhow!("scheduler on {bind}: {e}"))?;
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            external_host,
            port,
            grpc_port,
            concurrency,
            work_dir,
        } => {
            let (host, scheduler_port) = scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
                .with_context(|| format!("--scheduler {scheduler}: expected HOST:PORT"))?;
            let registry = BallistaFunctionRegistry::from(&redflag::cluster::session_state(
                SessionConfig::new(),
            ));
            let mut config = ExecutorProcessConfig {
                bind_host: bind.clone(),
                external_host,
                port,
                grpc_port,
                scheduler_host: host,
                scheduler_port,
                work_dir: work_dir.map(|d| d.display().to_string()),
                override_function_registry: Some(Arc::new(registry)),
                ..Default::default()
            };
            if let Some(n) = concurrency {
                config.vcores = n.max(1);
            }
            eprintln!(
                "redflag cluster executor: on {bind}:{port} (gRPC {grpc_port}), scheduler {scheduler}"
            );
            runtime
                .block_on(start_executor_process(Arc::new(config)))
                .map_err(|e| anyhow!("executor for scheduler {scheduler}: {e}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
