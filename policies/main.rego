# The one entry point: every action's decision is data.shipmate.main.decision.
# A domain without a policy leaves the decision undefined, and the Gate denies (fail closed).
package shipmate.main

import rego.v1

import data.shipmate.lib

domain := split(input.action.name, ".")[0]

base := data.shipmate.deploy.decision if domain == "deploy"

base := data.shipmate.sandbox.decision if domain == "sandbox"

base := data.shipmate.terraform.decision if domain == "terraform"

base := data.shipmate.operations.decision if domain in {"k8s", "cache"}

base := data.shipmate.runbook.decision if domain == "runbook"

base := data.shipmate.incident.decision if domain in {"pagerduty", "incident", "slack", "postmortem"}

# Autonomy: actions the learner proposes run in shadow mode (recorded, not executed) for the
# services listed in data.org.autonomy, until the service's scorecard earns trust.
shadowed if {
	object.get(input.action.risk, "proposed_by", "") == "learner"
	some s in data.org.autonomy.learner_shadow_services
	s in {"*", object.get(input.action.params, "service", "")}
	not trusted
}

trusted if {
	card := input.action.risk.learner_scorecard
	card.deploys >= data.org.autonomy.learner_trust.min_deploys
	card.agreement >= data.org.autonomy.learner_trust.min_agreement
}

# Terraform workspaces in shadow mode (data.org.terraform.shadow_workspaces): their fixes are
# planned and judged, never applied.
shadowed if {
	input.action.name == "terraform.apply"
	object.get(input.action.params, "workspace", "") in object.get(data.org.terraform, "shadow_workspaces", [])
}

shadow_reason := "This workspace is in shadow mode: the fix is planned and judged, not applied." if {
	input.action.name == "terraform.apply"
} else := "Learner-proposed actions for this service run in shadow mode until its scorecard crosses the threshold."

shadow_rule := "terraform.shadow_workspace" if {
	input.action.name == "terraform.apply"
} else := "autonomy.learner_shadow"

decision := base if not shadowed

decision := object.union(base, {
	"mode": "shadow",
	"reasons": array.concat(base.reasons, [shadow_reason]),
	"rules": array.concat(base.rules, [shadow_rule]),
}) if {
	shadowed
	base.allow
}

decision := base if {
	shadowed
	not base.allow
}
