# Authorisation decisions for the agents platform.
#
# data:  roles.yaml (actions, platform_actions, roles).
# input: {
#   "principal": {"tenant_id", "role", "kind": "user" | "api_key", "scopes": [action | "*"]},
#   "action": "agents:invoke",
#   "resource": {"category", "agent"},
#   "platform_tenant": "default",
# }
#
# `decision` is {"allow": bool, "reason": string}. It allows only when every check in `allowed`
# holds; anything else, including an input the rules do not cover, is a denial.
# Reasons are built with concat: regopy 1.5's sprintf wraps computed strings in quotes.
package agents.authz

import rego.v1

default decision := {"allow": false, "reason": "denied by default"}

decision := {"allow": true, "reason": "allowed"} if allowed

decision := {"allow": false, "reason": denial} if not allowed

allowed if {
	count(missing) == 0
	principal.kind in principal_kinds
	is_object(role)
	input.action in data.actions
	role_grants
	scope_grants
	tenant_permits
	invoke_permits
}

denial := concat("", ["missing or empty input fields: ", concat(", ", sort(missing))]) if {
	count(missing) > 0
} else := concat(" ", ["unknown principal kind", principal.kind]) if {
	not principal.kind in principal_kinds
} else := concat(" ", ["unknown role", principal.role]) if {
	not is_object(role)
} else := concat(" ", ["unknown action", input.action]) if {
	not input.action in data.actions
} else := concat(" ", ["role", principal.role, "may not", input.action]) if {
	not role_grants
} else := concat(" ", ["scope", input.action, "not granted to this key"]) if {
	not scope_grants
} else := concat(" ", [input.action, "is reserved to the platform tenant"]) if {
	not tenant_permits
} else := concat(" ", ["role", principal.role, "may not invoke agents of category", resource.category]) if {
	input.action == "agents:invoke"
	resource.category in restricted_categories
} else := concat(" ", ["role", principal.role, "may not invoke agent", resource.agent]) if {
	input.action == "agents:invoke"
	resource.agent in denied_agents
}

principal_kinds := {"user", "api_key"}

principal := object.get(input, "principal", {})

resource := object.get(input, "resource", {})

scopes := object.get(principal, "scopes", [])

role := data.roles[principal.role]

restricted_categories := object.get(role, "restricted_categories", [])

denied_agents := object.get(role, "denied_agents", [])

missing contains concat(".", ["principal", field]) if {
	some field in ["tenant_id", "role", "kind"]
	not non_empty_string(object.get(principal, field, null))
}

missing contains "action" if not non_empty_string(object.get(input, "action", null))

missing contains concat(".", ["resource", field]) if {
	input.action == "agents:invoke"
	some field in ["category", "agent"]
	not non_empty_string(object.get(resource, field, null))
}

non_empty_string(value) if {
	is_string(value)
	value != ""
}

role_grants if "*" in role.actions

role_grants if input.action in role.actions

scope_grants if count(scopes) == 0

scope_grants if "*" in scopes

scope_grants if input.action in scopes

tenant_permits if not input.action in data.platform_actions

tenant_permits if principal.tenant_id == input.platform_tenant

invoke_permits if input.action != "agents:invoke"

invoke_permits if {
	input.action == "agents:invoke"
	not resource.category in restricted_categories
	not resource.agent in denied_agents
}
