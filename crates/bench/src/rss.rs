//! The server's memory, read from `/proc/PID/status` while the run goes on.

/// Resident set size and its peak, in KiB, or `None` if the process is not readable.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU the process has used (user + system), in clock ticks, from `/proc/PID/stat`.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields are counted after its `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let (rss, peak) = super::rss_kib(std::process::id()).unwrap();
        assert!(rss > 0 && peak >= rss);
        assert_eq!(super::rss_kib(u32::MAX), None);
    }

    #[test]
    fn reads_this_process_cpu() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(super::cpu_ticks(std::process::id()).is_some());
        assert_eq!(super::cpu_ticks(u32::MAX), None);
    }
}
