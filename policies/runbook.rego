# Read-only runbook steps (queries whose results are posted in the channel) run for anyone in
# the team directory. Mutating steps are their own actions (see operations.rego).
package shipmate.runbook

import rego.v1

import data.shipmate.lib

default decision := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": ["Only people in the team directory may run runbook queries."],
	"rules": ["runbook.unknown_requester"],
}

decision := lib.allow_doc(["Read-only runbook steps run without approval."], ["runbook.read_only"], 0, []) if {
	input.action.name == "runbook.query"
	data.org.team.users[input.requester.name]
}
