# Incident actions: anyone in the directory may declare and page; responders steer.
package shipmate.incident

import rego.v1

import data.shipmate.lib

name := input.action.name

member if data.org.team.users[input.requester.name]

# shipmate itself: declares incidents from alerts, archives a resolved incident's room.
automation if input.requester.name == "shipmate"

member if automation

responder if lib.has_role(input.requester, "oncall")

responder if lib.has_role(input.requester, "deployer")

declare_actions := {"pagerduty.incident.create", "slack.channel.create"}

oncall_actions := {"pagerduty.incident.acknowledge", "pagerduty.incident.resolve"}

responder_actions := {"pagerduty.incident.note", "incident.status.update", "incident.role.assign", "slack.channel.archive", "postmortem.publish"}

default decision := {
	"allow": false,
	"approvals_required": 0,
	"eligible_approvers": [],
	"mode": "execute",
	"reasons": ["No incident rule matched this action."],
	"rules": ["incident.default_deny"],
}

decision := lib.deny_doc([sprintf("%s is not in the team directory.", [input.requester.name])], ["incident.unknown_requester"]) if {
	not member
}

decision := lib.allow_doc(["Anyone on the team may declare an incident and page."], ["incident.declare_allowed"], 0, []) if {
	member
	name in declare_actions
}

decision := lib.allow_doc(["On-call acknowledges and resolves incidents."], ["incident.oncall_allowed"], 0, []) if {
	member
	name in oncall_actions
	responder
	lib.has_role(input.requester, "oncall")
}

decision := lib.deny_doc([sprintf("Only on-call may %s an incident; %s is not on call.", [split(name, ".")[2], input.requester.name])], ["incident.oncall_only"]) if {
	member
	name in oncall_actions
	not lib.has_role(input.requester, "oncall")
}

decision := lib.allow_doc(["Responders (on-call, deployers) post updates, notes and roles."], ["incident.responder_allowed"], 0, []) if {
	member
	name in responder_actions
	responder
}

decision := lib.deny_doc([sprintf("%s is not a responder (on-call or deployer).", [input.requester.name])], ["incident.responder_only"]) if {
	member
	name in responder_actions
	not responder
	not automatic_archive
}

automatic_archive if {
	automation
	name == "slack.channel.archive"
	object.get(input.action.risk, "automatic", false) == true
}

decision := lib.allow_doc(["shipmate archives a resolved incident's war room after its grace period."], ["incident.automatic_archive"], 0, []) if {
	automatic_archive
}
