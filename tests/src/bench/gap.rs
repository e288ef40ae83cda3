//! Where a call through the gateway spends the time the direct call does not: the client's
//! p50 cut into parts by the means of the `Server-Timing` stages (`gateway::fetch`'s own, and
//! the action worker's relayed with an `a-` prefix).
//!
//! Invariants: the parts add up to the client's figure exactly (each is a difference of the
//! stages, so a part may come out negative when a median and a mean do not subtract); the
//! service-binding hop is what `forward` took beyond every `a-*` stage, so the action shell's
//! own work (`a-shell`: signature, decoding, services, log line, reply) is its own part, not
//! the hop's.

use super::server_timing::Stages;

/// The parts of one call's time (ms), in the order of the request's path.
#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    /// Client p50 − `total`: HTTP, the runtime's invocation, what no stage covers.
    pub outside: f64,
    /// `total` − `forward` − `gate`: auth, team choice, routing.
    pub gateway: f64,
    /// The team object's gate (membership, limits, the reservation).
    pub gate: f64,
    /// `forward` − Σ `a-*`: the Service Binding's request and answer, the envelope's bytes.
    pub hop: f64,
    /// `a-shell`: the action worker's shell around the action.
    pub shell: f64,
    /// Σ `a-*` − `a-upstream` − `a-shell`: the action's configuration, ledger, cache.
    pub storage: f64,
    /// `a-upstream`: the call to the MCP server.
    pub upstream: f64,
}

impl Gap {
    /// The parts of `client_p50` (ms) by the stage means in `stages`.
    pub fn of(stages: &Stages, client_p50: f64) -> Gap {
        let m = |name: &str| stages.mean(name).unwrap_or(0.0);
        let (total, forward, gate) = (m("total"), m("forward"), m("gate"));
        let action = stages.mean_sum("a-");
        let (upstream, shell) = (m("a-upstream"), m("a-shell"));
        Gap {
            outside: client_p50 - total,
            gateway: total - forward - gate,
            gate,
            hop: forward - action,
            shell,
            storage: action - upstream - shell,
            upstream,
        }
    }

    /// Every part together (the client's figure).
    pub fn sum(&self) -> f64 {
        self.outside
            + self.gateway
            + self.gate
            + self.hop
            + self.shell
            + self.storage
            + self.upstream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_its_own_part_and_the_parts_add_up_to_the_client_figure() {
        let mut s = Stages::default();
        s.add(["auth;dur=0.5, gate;dur=1, forward;dur=8, a-config;dur=0, a-shell;dur=1, a-upstream;dur=3, a-finish;dur=0, total;dur=10"]);
        s.add(["auth;dur=0.5, gate;dur=2, forward;dur=10, a-config;dur=1, a-shell;dur=0, a-upstream;dur=5, a-finish;dur=0, total;dur=13"]);
        let gap = Gap::of(&s, 12.5);
        assert_eq!(
            gap,
            Gap {
                outside: 1.0,
                gateway: 1.0,
                gate: 1.5,
                hop: 9.0 - 5.0,
                shell: 0.5,
                storage: 5.0 - 4.0 - 0.5,
                upstream: 4.0,
            }
        );
        assert_eq!(gap.sum(), 12.5);
    }

    #[test]
    fn without_a_shell_stage_the_hop_keeps_the_shell_and_nothing_is_lost() {
        let mut s = Stages::default();
        s.add(["gate;dur=1, forward;dur=6, a-start;dur=1, a-upstream;dur=2, total;dur=8"]);
        let gap = Gap::of(&s, 9.0);
        assert_eq!((gap.hop, gap.shell, gap.storage), (3.0, 0.0, 1.0));
        assert_eq!(gap.sum(), 9.0);
    }
}
