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
    /// D1 queries that only read.
    pub d1_reads: f64,
    /// D1 queries (round trips) that write, and the statements in them.
    pub d1_write_queries: f64,
    pub d1_write_statements: f64,
    pub do_requests: f64,
    pub kv_reads: f64,
    pub kv_writes: f64,
    /// Worker invocations: the gateway, the action worker over its Service Binding, and each
    /// Durable Object request (billed as a DO request, not a Worker request).
    pub invocations: f64,
}

impl PerCall {
    /// D1 statements per call: each read and each written statement is one query of the
    /// database's single thread.
    pub fn d1_statements(&self) -> f64 {
        self.d1_reads + self.d1_write_statements
    }

    /// Calls/s at which one D1 database reaches `d1_statements_per_sec`.
    pub fn d1_saturation_calls_per_sec(&self, d1_statements_per_sec: f64) -> f64 {
        d1_statements_per_sec / self.d1_statements()
    }
}

/// One D1 database's throughput: "If your average query takes 1 ms, you can run approximately
/// 1,000 queries per second" (Cloudflare's D1 limits page). Writes are durable commits and
/// take longer than 1 ms, so this is an optimistic ceiling.
pub const D1_STATEMENTS_PER_SEC: f64 = 1_000.0;
/// A Durable Object's soft limit (Cloudflare's Durable Objects limits page).
pub const DO_REQUESTS_PER_SEC: f64 = 1_000.0;

/// Today's warm call (no credential on the server; one adds a D1 read and a D1 write):
/// D1 reads server, tool, credential; D1 writes the `pending` row, then the final state and
/// the tool's statistics in one batch; KV reads the gateway's team pick, the breaker and the
/// MCP session; one rate-limiter object request; gateway and call_tool invocations.
pub const TODAY: PerCall = PerCall {
    d1_reads: 3.0,
    d1_write_queries: 2.0,
    d1_write_statements: 3.0,
    do_requests: 1.0,
    kv_reads: 3.0,
    kv_writes: 0.0,
    invocations: 3.0,
};

/// The target design: the team's object admits and writes the `pending` record in its own
/// SQLite (one request), the action worker reports the end to it (a second), configuration
/// comes from the isolate's cache, and the object flushes its ledger to D1 in batches: when
/// `flush_secs` have passed with rows pending, or at `batch_rows` rows, each flush one D1
/// batch of `statements_per_flush` statements (executions insert, tool statistics, rollups).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub flush_secs: f64,
    pub batch_rows: f64,
    pub statements_per_flush: f64,
}

impl Target {
    pub const DEFAULT: Target = Target {
        flush_secs: 1.0,
        batch_rows: 100.0,
        statements_per_flush: 3.0,
    };

    /// Flushes per second of one team calling at `rate` calls/s (Poisson arrivals): a timer
    /// flush when any row arrived in the interval, or a full batch, whichever is more often.
    pub fn flushes_per_sec(&self, rate: f64) -> f64 {
        let timed = (1.0 - (-rate * self.flush_secs).exp()) / self.flush_secs;
        timed.max(rate / self.batch_rows)
    }

    /// D1 statements/s of `teams` equal teams calling `calls_per_sec` in all.
    pub fn d1_statements_per_sec(&self, calls_per_sec: f64, teams: f64) -> f64 {
        teams * self.flushes_per_sec(calls_per_sec / teams) * self.statements_per_flush
    }

    /// A warm call of a team calling at `team_rate` calls/s.
    pub fn per_call(&self, team_rate: f64) -> PerCall {
        let flushes_per_call = if team_rate > 0.0 {
            self.flushes_per_sec(team_rate) / team_rate
        } else {
            1.0
        };
        PerCall {
            d1_reads: 0.0,
            d1_write_queries: flushes_per_call,
            d1_write_statements: flushes_per_call * self.statements_per_flush,
            do_requests: 2.0,
            kv_reads: 1.0,
            kv_writes: 0.0,
            invocations: 4.0,
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
    fn a_busy_team_fills_batches_and_a_quiet_one_flushes_each_call() {
        let t = Target::DEFAULT;
        // 1,000 calls/s: ten 100-row batches a second.
        assert!((t.per_call(1000.0).d1_write_queries - 0.01).abs() < 1e-9);
        // One call a minute: nearly every call is its own flush.
        assert!(t.per_call(1.0 / 60.0).d1_write_queries > 0.99);
    }

    #[test]
    fn flushing_every_second_still_saturates_one_d1_below_the_average_load_of_10000_teams() {
        let t = Target::DEFAULT;
        let teams = Workload::PRODUCT.teams;
        // About 340 calls/s reach 1,000 statements/s; the product averages 463.
        assert!(t.d1_statements_per_sec(330.0, teams) < 1000.0);
        assert!(t.d1_statements_per_sec(350.0, teams) > 1000.0);
        let minute = Target {
            flush_secs: 60.0,
            ..t
        };
        let peak = Workload::PRODUCT.peak_calls_per_sec();
        assert!((minute.d1_statements_per_sec(peak, teams) - 500.0).abs() < 1.0);
    }

    #[test]
    fn today_saturates_one_d1_at_a_sixth_of_its_statement_rate() {
        assert!((TODAY.d1_saturation_calls_per_sec(1000.0) - 166.67).abs() < 0.01);
    }
}
