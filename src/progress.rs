//! A one-line progress display on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redflag::Stage;

/// Redraws `[n/6] stage  12.3 s` in place four times a second until dropped.
pub struct Progress {
    state: Arc<Mutex<Option<(Stage, Instant)>>>,
    done: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// A display when `enabled` and stderr is a terminal; otherwise one that does nothing.
    pub fn start(enabled: bool) -> Progress {
        let state: Arc<Mutex<Option<(Stage, Instant)>>> = Arc::new(Mutex::new(None));
        let done = Arc::new(AtomicBool::new(false));
        let ticker = (enabled && std::io::stderr().is_terminal()).then(|| {
            let (state, done) = (Arc::clone(&state), Arc::clone(&done));
            std::thread::spawn(move || {
                const SPIN: [char; 4] = ['|', '/', '-', '\\'];
                let mut tick = 0usize;
                while !done.load(Ordering::Relaxed) {
                    let current = state.lock().map(|s| *s).unwrap_or(None);
                    if let Some((stage, since)) = current {
                        let n = stage.number();
                        let bar: String = (1..=Stage::ALL.len())
                            .map(|i| {
                                if i < n {
                                    '#'
                                } else if i == n {
                                    SPIN[tick % 4]
                                } else {
                                    '.'
                                }
                            })
                            .collect();
                        let mut err = std::io::stderr().lock();
                        let _ = write!(
                            err,
                            "\r\x1b[2K[{bar}] {n}/{} {} {:.1} s",
                            Stage::ALL.len(),
                            stage.describe(),
                            since.elapsed().as_secs_f64()
                        );
                        let _ = err.flush();
                    }
                    tick += 1;
                    std::thread::sleep(Duration::from_millis(250));
                }
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            })
        });
        Progress {
            state,
            done,
            ticker,
        }
    }

    /// The hook to give the engine.
    pub fn hook(&self) -> impl Fn(Stage) + Send + Sync + 'static {
        let state = Arc::clone(&self.state);
        move |stage| {
            if let Ok(mut s) = state.lock() {
                *s = Some((stage, Instant::now()));
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}
