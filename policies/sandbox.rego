# The sandbox's own controls (fault injection for demos): deployers may use them.
package shipmate.sandbox

import rego.v1

import data.shipmate.lib

default decision := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": ["Only deployers may change the sandbox."],
	"rules": ["sandbox.requester_not_deployer"],
}

decision := lib.allow_doc(["Deployers may change the sandbox (faults, drift)."], ["sandbox.deployer_allowed"], 0, []) if {
	lib.has_role(input.requester, "deployer")
}
