use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{Address, Estate, PolicyException};

/// A rule: its id, the seed sentence it enforces, and what it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `tags.required` (what exceptions and `--rule` name).
    pub id: &'static str,
    /// The seed rule it enforces, quoted with its seed.
    pub seed: &'static str,
    /// One line on what it checks.
    pub checks: &'static str,
}

/// Every rule, in report order.
pub const RULES: &[Rule] = &[
    Rule {
        id: "tags.required",
        seed: "seed 001: \"Tagging | Deny | environment, owner, cost-center (required)\"; seed 004: tag enforcement for cost attribution",
        checks: "every taggable resource has environment, owner and cost-center, non-empty",
    },
    Rule {
        id: "tags.environment",
        seed: "seed 001: resources tagged with their environment",
        checks: "the environment tag equals the environment's name",
    },
    Rule {
        id: "private.public-access",
        seed: "seed 000: \"All data services use private endpoints\"; seed 004: \"Private Endpoints: No public exposure\"",
        checks: "every data service has public network access disabled",
    },
    Rule {
        id: "private.endpoint",
        seed: "seed 000: \"Private endpoint for secure access\", \"All private DNS zones linked to AKS VNet\"",
        checks: "every data service has a private endpoint in the right privatelink zone, linked to the endpoint's VNet",
    },
    Rule {
        id: "private.aks",
        seed: "seed 000: \"Private cluster with no public access\"",
        checks: "AKS clusters are private",
    },
    Rule {
        id: "private.containers",
        seed: "seed 001: \"Security | Deny | HTTPS only, TLS 1.2+, no public storage\"",
        checks: "no blob container allows public access",
    },
    Rule {
        id: "ordering.dns-before-endpoint",
        seed: "seed 000: \"Private DNS zones created before private endpoints\"",
        checks: "each private endpoint depends on its zone's VNet link",
    },
    Rule {
        id: "ordering.certificate-before-gateway",
        seed: "seed 000: \"SSL certificate created in Key Vault before Application Gateway\"",
        checks: "each Application Gateway depends on its Key Vault certificates and on its identity's access to them",
    },
    Rule {
        id: "ordering.rbac-after-resources",
        seed: "seed 000: \"RBAC assignments after resource creation\"",
        checks: "each role assignment depends on its scope and its principal",
    },
    Rule {
        id: "ordering.nodepool-after-cluster",
        seed: "seed 000: AKS node pools belong to their cluster",
        checks: "each node pool depends on its cluster",
    },
    Rule {
        id: "ordering.plan",
        seed: "seed 000: \"Proper dependency ordering to prevent race conditions\"",
        checks: "no plan schedules an operation before its dependencies",
    },
    Rule {
        id: "recovery.rpo",
        seed: "estate objectives (seed 000: RPO 4 h; seed 001: RPO 15 min; seed 004: RPO < 4 h)",
        checks: "each stateful resource's worst-case data loss, from its backup settings, is within the RPO",
    },
    Rule {
        id: "recovery.rto",
        seed: "estate objectives (seed 000: RTO 4 h; seed 001: RTO 1 h)",
        checks: "restoring the estate, along its critical path on the catalog's durations, fits the RTO",
    },
    Rule {
        id: "recovery.drill",
        seed: "seed 001: \"DR Testing: Quarterly full failover drills\"",
        checks: "restores measured by drills met the RPO and RTO",
    },
    Rule {
        id: "cost.budget",
        seed: "seed 000: \"Budget: ~$1,065/month\"",
        checks: "the monthly estimate from catalog prices is within the budget",
    },
    Rule {
        id: "security.tls",
        seed: "seed 000: \"TLS 1.2+ enforced everywhere\"; seed 001: \"TLS 1.2+\"",
        checks: "services that terminate TLS require 1.2 or later",
    },
    Rule {
        id: "security.https-only",
        seed: "seed 001: \"Security | Deny | HTTPS only\"",
        checks: "storage accounts and web apps accept HTTPS only",
    },
    Rule {
        id: "security.key-vault",
        seed: "seed 001: \"Key Vault | RBAC, soft-delete, purge protection\"; seed 000: \"Key Vault RBAC authorization\"",
        checks: "Key Vaults have soft delete, purge protection and RBAC authorization",
    },
    Rule {
        id: "security.diagnostics",
        seed: "seed 001: \"Operational | Audit | Diagnostic settings\"; seed 002: \"Diagnostic settings for all resources\"",
        checks: "every resource with resource logs sends them to Log Analytics",
    },
    Rule {
        id: "security.no-secret-literals",
        seed: "seed 001: \"Secrets use Key Vault references (no hardcoded values)\"; seed 002: \"Key Vault references\"",
        checks: "no secret-looking property holds a literal value",
    },
    Rule {
        id: "prod.multi-region",
        seed: "seed 004: \"Multi-region: Primary in East US, DR in West US\", \"Redundancy: GRS or GZRS\"",
        checks: "in an environment with a DR region, stateful services replicate to it",
    },
    Rule {
        id: "prod.zone-redundancy",
        seed: "seed 004: \"Zone Redundancy: All services across 3+ zones\"",
        checks: "in a zone-redundant environment, zonal resources span 3 zones",
    },
    Rule {
        id: "prod.high-availability",
        seed: "seed 004: \"Zone Redundancy: All services across 3+ zones\", \"Auto-failover\"; seed 001: PostgreSQL \"Zone-redundant HA\"",
        checks: "where the baseline asks for high availability, databases run zone-redundant HA",
    },
    Rule {
        id: "prod.regions",
        seed: "seed 004: \"Multi-region: Primary in East US, DR in West US\"; seed 001: \"East US + West US 2\", \"Compliance / Deny / Allowed regions\"",
        checks: "the environment deploys to the baseline's primary region and replicates to its DR region; every resource sits in an allowed region",
    },
    Rule {
        id: "prod.private-only",
        seed: "seed 004: \"Private Endpoints: No public exposure\"",
        checks: "the environment requires private endpoints only, as the baseline does",
    },
    Rule {
        id: "prod.destroy-protection",
        seed: "seed 004: \"Destroy: Forbidden (requires exception)\"",
        checks: "the environment forbids destroying resources without an exception",
    },
    Rule {
        id: "prod.maintenance-window",
        seed: "seed 004: \"Maintenance Windows: Standard: Sundays 2-6 AM EST\"",
        checks: "the environment declares a maintenance window within the baseline's days, hours and time zone",
    },
    Rule {
        id: "prod.promotion-gate",
        seed: "seed 001: \"Environment promotion: dev -> staging -> prod\"",
        checks: "a release reaches the environment only after it succeeded in the one before",
    },
    Rule {
        id: "prod.backup-before-apply",
        seed: "seed 004: \"State backup before every apply\"",
        checks: "the environment backs its state up before every apply",
    },
    Rule {
        id: "prod.state-retention",
        seed: "seed 004: state storage \"Soft delete: 30 days\"",
        checks: "pruned state stays recoverable at least as long as the baseline says",
    },
    Rule {
        id: "security.nsg",
        seed: "seed 000: \"Network security groups on all subnets\", \"Azure CNI with network policies\"",
        checks: "every subnet (except the ones Azure reserves) has a network security group that lets the internet reach no more than HTTP(S), and AKS clusters enforce network policies",
    },
    Rule {
        id: "security.local-auth",
        seed: "seed 002: \"User-assigned managed identities are used for authentication between services\"; seed 001: \"Secrets use Key Vault references (no hardcoded values)\"",
        checks: "registries, App Configuration, SignalR and Cognitive Services accept managed identities only, not shared keys or admin users",
    },
    Rule {
        id: "security.image-scanning",
        seed: "seed 000: \"Container image scanning enabled\"",
        checks: "every container registry scans its images",
    },
    Rule {
        id: "security.waf",
        seed: "seed 000: \"Application Gateway with WAF\"; seed 004: \"WAF: OWASP Top 10 protection\"",
        checks: "WAF policies block (Prevention mode) with an OWASP rule set, and every WAF gateway uses one",
    },
    Rule {
        id: "security.rotation",
        seed: "seed 001: \"Automated secret rotation occurs every 90 days with advance notification (14 days before expiry)\", \"chaufher-{env}-kv: ... 90-day automated rotation\"",
        checks: "every Key Vault secret rotates at least as often as the baseline says, unless its vault's seed makes it manual",
    },
    Rule {
        id: "security.log-retention",
        seed: "seed 000: \"Audit logging enabled (365-day retention)\"; seed 001: audit logs \"90 days retention\"",
        checks: "Log Analytics workspaces keep logs at least as long as the baseline says",
    },
    Rule {
        id: "recovery.backup-retention",
        seed: "seed 000: PostgreSQL \"Geo-redundant backups (35-day retention)\"; seed 001: Database \"35 days\"; seed 004: \"Daily with 30-day retention\"",
        checks: "database backups are kept at least as long as the baseline says",
    },
    Rule {
        id: "naming.convention",
        seed: "seed 001: \"Resource Naming Convention\", \"Pattern: {product}-{environment}-{service}-{region}\"",
        checks: "where the baseline sets the convention, every regional resource is named by it (types whose names Azure restricts aside)",
    },
    Rule {
        id: "monitoring.alerts",
        seed: "seed 000: \"Metric Alerts: CPU, memory, and availability monitoring\", \"Action Groups: Email and webhook notifications\"; seed 004: \"High resource usage (>80%)\"",
        checks: "the alerts the baseline requires exist; every alert is on, notifies an action group that emails someone, and fires on resource usage at 80% or lower",
    },
    Rule {
        id: "identity.roles",
        seed: "seed 000: \"AcrPull role assigned to AKS kubelet identity\", \"AGIC ... role assignments\"; the role assignments each seed requires",
        checks: "every role assignment the baseline requires exists, with its role, scope and principal",
    },
    Rule {
        id: "identity.oidc",
        seed: "seed 002: \"OIDC ... federated credentials\" for GitHub Actions and Azure DevOps; seed 001: OIDC deployments",
        checks: "every federated identity credential the baseline requires exists, with its issuer and subject",
    },
];

/// Every rule id, in report order (what a baseline requirement may name).
pub fn rule_ids() -> Vec<&'static str> {
    RULES.iter().map(|r| r.id).collect()
}

/// The first mitigation `e` cites that `estate` does not set (absent,
/// `false`, zero or empty), as `address.path`.
fn missing_mitigation(estate: &Estate, e: &PolicyException) -> Option<String> {
    use crate::model::{Condition, Value};
    e.mitigated_by
        .iter()
        .find(|(a, path, cond)| {
            let v = estate.resource(a).and_then(|r| r.property(path));
            match (v, cond) {
                (None, _) => true,
                (Some(v), Some(Condition::Equals(want))) => match v {
                    Value::String(s) => s != want,
                    Value::Bool(b) => b.to_string() != *want,
                    Value::Int(i) => i.to_string() != *want,
                    _ => true,
                },
                (Some(v), Some(Condition::AtLeast(n))) => v.as_int().is_none_or(|i| i < *n),
                (Some(Value::Bool(false) | Value::Int(0)), None) => true,
                (Some(Value::String(s)), None) => s.is_empty(),
                (Some(Value::List(l)), None) => l.is_empty(),
                (Some(_), None) => false,
            }
        })
        .map(|(a, path, cond)| {
            let c = cond.as_ref().map_or(String::new(), ToString::to_string);
            format!("{a}.{path}{c}")
        })
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One violation of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: &'static str,
    /// The resource, when the finding is about one.
    pub address: Option<Address>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// A declaration looser than the organisation's baseline: no estate
    /// exception covers it (the baseline is changed by its owners, not by
    /// the estate it binds).
    pub baseline: bool,
    /// What it measured, where the rule measures (an RTO estimate, a worst
    /// case data loss): a bounded exception covers it only up to its bound.
    pub measured: Option<crate::model::Interval>,
}

impl Finding {
    /// A finding about `address` (or the whole estate).
    pub fn new(
        rule: &'static str,
        address: Option<&Address>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            rule,
            address: address.cloned(),
            message: message.into(),
            fix: fix.into(),
            baseline: false,
            measured: None,
        }
    }

    /// The same finding, recording what it measured.
    pub fn measuring(mut self, measured: crate::model::Interval) -> Self {
        self.measured = Some(measured);
        self
    }

    /// A finding about the estate or its environment declaring less than
    /// the baseline demands.
    pub fn below_baseline(
        rule: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            baseline: true,
            ..Finding::new(rule, None, message, fix)
        }
    }
}

/// What became of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// It stands.
    Fail,
    /// An unexpired exception covers it.
    Excepted {
        /// Where the exception is declared.
        origin: String,
        /// Its justification.
        justification: String,
        /// Its expiry.
        expires: String,
    },
    /// An exception covered it but has expired: it stands.
    Expired {
        /// Where the exception is declared.
        origin: String,
        /// When it expired.
        expires: String,
    },
}

/// The verdict on one estate in one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The estate.
    pub estate: String,
    /// The environment.
    pub env: String,
    /// Every finding and what became of it.
    pub findings: Vec<(Finding, Verdict)>,
}

impl Report {
    /// Applies `exceptions` (as of `today`) to `findings`.
    pub fn new(
        estate: &Estate,
        findings: Vec<Finding>,
        exceptions: &[PolicyException],
        today: &str,
    ) -> Self {
        // An exception whose cited mitigation the spec does not have covers
        // nothing: its justification no longer holds.
        let (sound, unsound): (Vec<PolicyException>, Vec<(PolicyException, String)>) = {
            let mut sound = Vec::new();
            let mut unsound = Vec::new();
            for e in exceptions {
                match missing_mitigation(estate, e) {
                    None => sound.push(e.clone()),
                    Some(m) => unsound.push((e.clone(), m)),
                }
            }
            (sound, unsound)
        };
        let findings = findings
            .into_iter()
            .map(|mut f| {
                let (active, expired) = if f.baseline {
                    (None, None)
                } else {
                    crate::policy::exception_for_measured(
                        &sound,
                        f.rule,
                        f.address.as_ref(),
                        f.measured,
                        today,
                    )
                };
                if active.is_none()
                    && let Some((e, m)) = unsound
                        .iter()
                        .find(|(e, _)| e.rule == f.rule && e.scope.covers(f.address.as_ref()))
                {
                    f.message = format!(
                        "{} (the exception at {} does not apply: it cites `{m}`, which the spec does not hold)",
                        f.message, e.origin
                    );
                }
                let outcome = match (active, expired) {
                    (Some(e), _) => Verdict::Excepted {
                        origin: e.origin.clone(),
                        justification: e.justification.clone(),
                        expires: e.expires.clone(),
                    },
                    (None, Some(e)) => Verdict::Expired {
                        origin: e.origin.clone(),
                        expires: e.expires.clone(),
                    },
                    (None, None) => Verdict::Fail,
                };
                (f, outcome)
            })
            .collect();
        Report {
            estate: estate.name.clone(),
            env: estate.environment.name.clone(),
            findings,
        }
    }

    /// Keeps only the findings of these rules (and reports only them).
    pub fn only(mut self, rules: &[String]) -> Self {
        if !rules.is_empty() {
            self.findings
                .retain(|(f, _)| rules.iter().any(|r| r == f.rule));
        }
        self
    }

    /// Findings that stand.
    pub fn failures(&self) -> impl Iterator<Item = &(Finding, Verdict)> {
        self.findings
            .iter()
            .filter(|(_, o)| !matches!(o, Verdict::Excepted { .. }))
    }

    /// Whether nothing stands.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Rules with no finding at all.
    pub fn clean_rules(&self, selected: &[String]) -> Vec<&'static str> {
        let hit: BTreeSet<&str> = self.findings.iter().map(|(f, _)| f.rule).collect();
        RULES
            .iter()
            .map(|r| r.id)
            .filter(|id| {
                !hit.contains(id) && (selected.is_empty() || selected.iter().any(|s| s == id))
            })
            .collect()
    }

    /// Rules whose findings are all excepted.
    pub fn excepted_rules(&self) -> Vec<&'static str> {
        let mut out: Vec<&str> = Vec::new();
        for r in RULES {
            let mine: Vec<_> = self
                .findings
                .iter()
                .filter(|(f, _)| f.rule == r.id)
                .collect();
            if !mine.is_empty()
                && mine
                    .iter()
                    .all(|(_, o)| matches!(o, Verdict::Excepted { .. }))
            {
                out.push(r.id);
            }
        }
        out
    }
}
