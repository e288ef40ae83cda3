//! The capacity model of `docs/CAPACITY.md` as arithmetic, so that the load script prints the
//! model's prediction for the load it drove beside what it measured. Every constant here is
//! named in that document with where it comes from.

/// Calls per day spread over users and teams, with a peak factor over the daily average.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub teams: f64,
    pub users_per_team: f64,
    pub calls_per_user_per_day: f64,
    /// Peak calls/s over average calls/s.
    pub peak_factor: f64,
}

impl Workload {
    /// The product: 10,000 teams of 20 users, 200 calls a user a day, peak 10×.
    pub const PRODUCT: Workload = Workload {
        teams: 10_000.0,
        users_per_team: 20.0,
        calls_per_user_per_day: 200.0,
        peak_factor: 10.0,
    };

    pub fn average_calls_per_sec(&self) -> f64 {
        self.teams * self.users_per_team * self.calls_per_user_per_day / 86_400.0
    }

    pub fn peak_calls_per_sec(&self) -> f64 {
        self.average_calls_per_sec() * self.peak_factor
    }

    pub fn peak_calls_per_sec_per_team(&self) -> f64 {
        self.peak_calls_per_sec() / self.teams
    }
}

/// What one warm `call_tool` costs the platform.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerCall {
    /// D1 requests that only read (one query each).
    pub d1_reads: f64,
    /// D1 requests that write (a query or a batch: one transaction each), and the statements
    /// in them.
    pub d1_write_requests: f64,
    pub d1_write_statements: f64,
    pub do_requests: f64,
    pub kv_reads: f64,
    pub kv_writes: f64,
    /// Worker invocations: the gateway and the action worker over its Service Binding (object
    /// requests are counted in `do_requests`).
    pub invocations: f64,
}

impl PerCall {
    /// D1 requests per call: each is one turn of the database's single thread.
    pub fn d1_requests(&self) -> f64 {
        self.d1_reads + self.d1_write_requests
    }

    pub fn d1_statements(&self) -> f64 {
        self.d1_reads + self.d1_write_statements
    }

    /// Calls/s at which one D1 database serves `d1_requests_per_sec`.
    pub fn d1_saturation_calls_per_sec(&self, d1_requests_per_sec: f64) -> f64 {
        d1_requests_per_sec / self.d1_requests()
    }
}

/// One D1 database's throughput: "If your average query takes 1 ms, you can run approximately
/// 1,000 queries per second" (Cloudflare's D1 limits page). Counted per request (a query, or a
/// batch, which is one transaction); a writing request is a durable commit and a batch runs
/// its statements one after another, so this is an optimistic ceiling.
pub const D1_REQUESTS_PER_SEC: f64 = 1_000.0;
/// A Durable Object's soft limit (Cloudflare's Durable Objects limits page).
pub const DO_REQUESTS_PER_SEC: f64 = 1_000.0;

/// The design before issue 15 (measured: `docs/CAPACITY.md`), a warm call on a server without
/// a credential (one adds a D1 read and a D1 write): D1 reads server, tool, credential; D1
/// writes the `pending` row, then the final state and the tool's statistics in one batch; KV
/// reads the gateway's team pick, the breaker and the MCP session; one request to the team's
/// gate object; gateway and call_tool invocations.
pub const TODAY: PerCall = PerCall {
    d1_reads: 3.0,
    d1_write_requests: 2.0,
    d1_write_statements: 3.0,
    do_requests: 1.0,
    kv_reads: 3.0,
    kv_writes: 0.0,
    invocations: 2.0,
};

/// The ledger design: the team's object takes the `pending` record and the end of each call in
/// its own SQLite storage (two requests besides the gate's), and flushes finished records to
/// D1 in batches: `flush_secs` after the first record of a batch ends, or at `batch_rows`
/// records, one D1 batch each with `statements_per_flush` statements plus one per record
/// (`ledger_flushes` row, per-tool statistics; `shared::ledger::flush_statements`).
/// `config_reads` D1 reads per call: 3 with the ledger alone (`8a0e738`), 0 with call targets
/// cached in the isolate (`e2f58a5`). KV reads: the gateway's team pick and the MCP session
/// (measured 2.1 a call at `e2f58a5`).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub flush_secs: f64,
    pub batch_rows: f64,
    pub statements_per_flush: f64,
    pub config_reads: f64,
}

impl Target {
    /// As checked in (`shared::ledger`: `DEFAULT_FLUSH_DELAY_MS` a minute, `MAX_BATCH` 50;
    /// call targets cached).
    pub const DEFAULT: Target = Target {
        flush_secs: shared::ledger::DEFAULT_FLUSH_DELAY_MS as f64 / 1000.0,
        batch_rows: shared::ledger::MAX_BATCH as f64,
        statements_per_flush: 2.0,
        config_reads: 0.0,
    };
    /// The ledger as first landed (`8a0e738`, `e2f58a5`): flushed 200 ms after a call ends.
    pub const SHORT_FLUSH: Target = Target {
        flush_secs: 0.2,
        ..Target::DEFAULT
    };

    /// Flushes per second of one team calling at `rate` calls/s (Poisson arrivals): a timed
    /// flush when any record ended in the interval, or a full batch, whichever is more often.
    pub fn flushes_per_sec(&self, rate: f64) -> f64 {
        let timed = (1.0 - (-rate * self.flush_secs).exp()) / self.flush_secs;
        timed.max(rate / self.batch_rows)
    }

    /// D1 requests/s of `teams` equal teams calling `calls_per_sec` in all.
    pub fn d1_requests_per_sec(&self, calls_per_sec: f64, teams: f64) -> f64 {
        teams * self.flushes_per_sec(calls_per_sec / teams) + calls_per_sec * self.config_reads
    }

    /// A warm call of a team calling at `team_rate` calls/s.
    pub fn per_call(&self, team_rate: f64) -> PerCall {
        let flushes_per_call = if team_rate > 0.0 {
            self.flushes_per_sec(team_rate) / team_rate
        } else {
            1.0
        };
        PerCall {
            d1_reads: self.config_reads,
            d1_write_requests: flushes_per_call,
            d1_write_statements: flushes_per_call * self.statements_per_flush + 1.0,
            do_requests: 3.0,
            kv_reads: 2.0,
            kv_writes: 0.0,
            invocations: 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_averages_463_calls_per_second_and_peaks_at_4630() {
        let w = Workload::PRODUCT;
        assert!((w.average_calls_per_sec() - 462.96).abs() < 0.01);
        assert!((w.peak_calls_per_sec() - 4629.6).abs() < 0.1);
        assert!((w.peak_calls_per_sec_per_team() - 0.46296).abs() < 1e-4);
    }

    #[test]
    fn a_busy_team_fills_batches_and_a_quiet_one_flushes_each_call_after_200_ms() {
        let t = Target::SHORT_FLUSH;
        // 1,000 calls/s: twenty 50-record batches a second.
        assert!((t.per_call(1000.0).d1_write_requests - 0.02).abs() < 1e-9);
        // One call a minute: every call is its own flush.
        assert!(t.per_call(1.0 / 60.0).d1_write_requests > 0.99);
    }

    #[test]
    fn flushing_200_ms_after_a_call_takes_one_d1_request_a_call_and_a_minute_167_a_second() {
        let w = Workload::PRODUCT;
        // The product's peak: about 4,400 flushes/s of about one record each.
        let peak = Target::SHORT_FLUSH.d1_requests_per_sec(w.peak_calls_per_sec(), w.teams);
        assert!((4_300.0..4_500.0).contains(&peak), "{peak}");
        // As checked in, every minute: one flush per team per minute, 167/s.
        let peak = Target::DEFAULT.d1_requests_per_sec(w.peak_calls_per_sec(), w.teams);
        assert!((peak - 166.7).abs() < 0.1, "{peak}");
    }

    #[test]
    fn today_saturates_one_d1_at_a_fifth_of_its_request_rate() {
        assert!((TODAY.d1_saturation_calls_per_sec(1000.0) - 200.0).abs() < 1e-9);
    }
}
