//! The search's progress bar: indicatif's when the `progress` feature is on (the default) and
//! stderr is a terminal, nothing otherwise, so a library user without a terminal UI does not
//! compile one.

/// Counts finished fits on a bar, or not at all.
pub(crate) struct Progress {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// A bar over `len` fits when `enabled` and stderr is a terminal; hidden otherwise.
    #[cfg(feature = "progress")]
    pub(crate) fn new(enabled: bool, len: usize) -> Self {
        use std::io::IsTerminal;
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                bar: indicatif::ProgressBar::hidden(),
            };
        }
        let bar = indicatif::ProgressBar::new(len as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} fits (eta {eta})",
        ) {
            bar.set_style(style);
        }
        Progress { bar }
    }

    /// Without the `progress` feature there is never a bar.
    #[cfg(not(feature = "progress"))]
    pub(crate) fn new(_enabled: bool, _len: usize) -> Self {
        Progress {}
    }

    /// One more fit done.
    pub(crate) fn inc(&self) {
        #[cfg(feature = "progress")]
        self.bar.inc(1);
    }

    /// Removes the bar from the terminal.
    pub(crate) fn finish(&self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
    }
}
