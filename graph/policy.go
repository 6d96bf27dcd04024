package graph

import (
	"context"
	"fmt"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/users"
)

// Policy is who may read a field of the schema. Every field has one, in
// fieldPolicies; a test walks the schema and fails for a field without
// one, so that a new field cannot be exposed by forgetting it. The policy
// is enforced for every field of every operation, over HTTP and WebSocket,
// before its resolver runs (enforcePolicies); services check again.
type Policy int

const (
	// Anonymous: anyone, with or without a token.
	Anonymous Policy = iota + 1
	// AnyUser: any signed-in user.
	AnyUser
	// SelfOrAdmin: the user the object belongs to (or the user named by
	// the field's id/userId argument), or an administrator.
	SelfOrAdmin
	// AdminOnly: system administrators.
	AdminOnly
	// Scoped: recipient data, for any signed-in user, within the viewer's
	// restriction: the objects were read through the recipients package,
	// which adds the viewer's scope to every read.
	Scoped
	// Inherit: part of its parent object (a connection's edges, a
	// payload's parts), whose own field's policy decided already.
	Inherit
)

func (p Policy) String() string {
	switch p {
	case Anonymous:
		return "anonymous"
	case AnyUser:
		return "any user"
	case SelfOrAdmin:
		return "self or admin"
	case AdminOnly:
		return "admin only"
	case Scoped:
		return "scoped"
	case Inherit:
		return "inherit"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// fieldPolicies gives every field of every object type its policy.
var fieldPolicies = buildPolicies(map[string]map[Policy][]string{
	"Query": {
		AnyUser:     {"me", "lists", "list", "findUsers"},
		SelfOrAdmin: {"user"},
		Scoped:      {"recipient", "recipients", "previewList", "recipientCount", "recipientCounts"},
		AdminOnly:   {"users", "imports", "systemStatus", "import", "importRun", "proposeMapping", "auditLog"},
	},
	"Mutation": {
		// The services check that the token, list or user is the
		// viewer's own (or that the viewer is an administrator).
		AnyUser:     {"revokeApiToken", "createList", "updateList", "deleteList", "addListMembers", "removeListMembers", "shareList"},
		SelfOrAdmin: {"createApiToken"},
		AdminOnly: {"createUser", "updateUser", "createImport", "updateImport", "uploadImportFile", "runImport",
			"approveImportRun", "cancelImportRun", "deleteImport", "restoreImport", "revertImportRun",
			"setUserRestriction", "clearUserRestriction"},
	},
	"Subscription": {AdminOnly: {"importRunUpdated"}},

	"PageInfo": {Inherit: {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}},

	// Users reach other users as list owners, as the people a list is
	// shared with and in findUsers (to share a list): their names and
	// addresses, nothing of their accounts.
	"User": {
		AnyUser: {"id", "email", "name"},
		SelfOrAdmin: {"role", "disabled", "createdAt", "updatedAt", "apiTokens", "restriction", "restrictionRule", "restrictionDescription",
			"restrictionFromImport"},
		AdminOnly: {"managedBy"},
	},
	"UserEdge":              {Inherit: {"cursor", "node"}},
	"UserConnection":        {Inherit: {"edges", "nodes", "pageInfo", "totalCount"}},
	"ApiToken":              {SelfOrAdmin: {"id", "name", "prefix", "user", "createdAt", "lastUsedAt", "expiresAt", "revokedAt", "active"}},
	"CreateApiTokenPayload": {Inherit: {"token", "apiToken"}},

	// Imports are system data: a user reaches an import only as a
	// recipient's, and sees its id and name.
	"Import": {
		AnyUser: {"id", "name"},
		AdminOnly: {"description", "scheduleDescription", "schedule", "nextScheduledRunAt", "runOnUpload", "provisionTeacherAccounts", "kind",
			"method", "format", "mapping", "keyColumn", "defaultRecipientType", "removalThreshold", "rejectionThreshold",
			"lastRunAt", "lastRun", "fileDate", "latestFile", "needsAttention", "attentionReasons", "activeRun", "runs",
			"recipientCount", "userCount", "createdBy", "createdAt", "updatedAt", "deleteImpact", "deleted", "deletedAt",
			"deletedBy", "deleteMode", "purgeAfter"},
	},
	"Schedule":                 {AdminOnly: {"days", "time", "cron", "timeZone", "description"}},
	"MappingEntry":             {AdminOnly: {"column", "field", "label"}},
	"AttentionReason":          {AdminOnly: {"code", "message", "since", "run"}},
	"ListImpact":               {AdminOnly: {"list", "membersBefore", "membersAfter"}},
	"DeleteImpact":             {AdminOnly: {"recipients", "lists", "users", "files", "runs"}},
	"DeleteImportPayload":      {AdminOnly: {"import", "impact"}},
	"ImportEdge":               {AdminOnly: {"cursor", "node"}},
	"ImportConnection":         {AdminOnly: {"edges", "nodes", "pageInfo", "totalCount"}},
	"ImportFile":               {AdminOnly: {"id", "import", "name", "size", "sha256", "lineCount", "header", "uploadedBy", "uploadedAt"}},
	"ImportRunProgress":        {AdminOnly: {"phase", "rowsProcessed", "rowsTotal"}},
	"ImportRunError":           {AdminOnly: {"file", "line", "column", "value", "message"}},
	"ImportRunErrorEdge":       {AdminOnly: {"cursor", "node"}},
	"ImportRunErrorConnection": {AdminOnly: {"edges", "nodes", "pageInfo", "totalCount"}},
	"ImportRunChange":          {AdminOnly: {"line", "externalId", "action", "field", "oldValue", "newValue"}},
	"ImportRun": {AdminOnly: {"id", "import", "file", "status", "trigger", "dryRun", "requestedBy", "approvedBy",
		"approvedAt", "queuedAt", "startedAt", "finishedAt", "attempts", "progress", "rowsRead", "created", "updated",
		"unchanged", "removed", "restored", "rejected", "message", "errors", "warnings", "changes", "revertsRun",
		"revertedBy", "undoAvailable"}},
	"ImportRunEdge":           {AdminOnly: {"cursor", "node"}},
	"ImportRunConnection":     {AdminOnly: {"edges", "nodes", "pageInfo", "totalCount"}},
	"SystemStatus":            {AdminOnly: {"importsNeedingAttention", "recentProblemRuns", "activeRuns", "oldestDataImport", "oldestDataAt", "oldestDataAgeSeconds", "checkedAt"}},
	"UploadImportFilePayload": {AdminOnly: {"file", "run"}},

	"Recipient": {Scoped: {"id", "import", "detached", "externalId", "type", "firstName", "lastName", "grade",
		"school", "language", "phones", "emails", "customFields", "createdAt", "updatedAt", "removedAt", "classes",
		"guardians", "students"}},
	"RecipientClass":         {Scoped: {"sourcedId", "title", "classCode", "course", "school", "periods", "role"}},
	"Phone":                  {Scoped: {"number", "label"}},
	"Email":                  {Scoped: {"address", "label"}},
	"RecipientEdge":          {Inherit: {"cursor", "node"}},
	"RecipientConnection":    {Inherit: {"edges", "nodes", "pageInfo", "totalCount"}},
	"RecipientCountRow":      {Scoped: {"values", "count"}},
	"ContactPoint":           {Scoped: {"value", "labels", "recipientCount", "recipients"}},
	"ContactPointEdge":       {Inherit: {"cursor", "node"}},
	"ContactPointConnection": {Inherit: {"edges", "nodes", "pageInfo", "totalCount"}},

	// A list reaches a user only through the lists service, which checks
	// that it is theirs, shared with them, or that they are an
	// administrator; its people are read within the viewer's restriction.
	"List": {
		AnyUser: {"id", "name", "description", "owner", "filter", "rule", "filterDescription", "sharedWith", "canEdit", "createdAt", "updatedAt"},
		Scoped:  {"additions", "exclusions", "members", "memberCount", "explain", "contactPoints"},
	},
	"ListReason":      {Scoped: {"code", "message"}},
	"ListExplanation": {Scoped: {"member", "reasons", "matchedConditions", "failedConditions"}},
	"ListEdge":        {Inherit: {"cursor", "node"}},
	"ListConnection":  {Inherit: {"edges", "nodes", "pageInfo", "totalCount"}},
	"ListPreview":     {Scoped: {"count", "recipients"}},

	// A saved filter read back is part of what holds it (a list's rule, a
	// user's restriction), which has its own policy.
	"RecipientFilterRule": {Inherit: {"all", "and", "or", "not", "externalId", "type", "firstName", "lastName", "grade",
		"school", "language", "email", "phone", "importId", "customFields", "class"}},
	"StringCondition":        {Inherit: {"eq", "neq", "in", "nin", "startsWith", "contains", "isNull"}},
	"GradeCondition":         {Inherit: {"eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "isNull"}},
	"RecipientTypeCondition": {Inherit: {"eq", "neq", "in", "nin"}},
	"IDCondition":            {Inherit: {"eq", "neq", "in", "nin", "isNull"}},
	"CustomFieldCondition":   {Inherit: {"key", "eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "startsWith", "contains", "isNull"}},

	"AuditEntry":           {AdminOnly: {"id", "at", "actor", "actorEmail", "action", "targetType", "targetId", "targetName", "details"}},
	"AuditEntryEdge":       {AdminOnly: {"cursor", "node"}},
	"AuditEntryConnection": {AdminOnly: {"edges", "nodes", "pageInfo", "totalCount"}},
})

func buildPolicies(byType map[string]map[Policy][]string) map[string]Policy {
	out := map[string]Policy{}
	for typ, byPolicy := range byType {
		for p, fields := range byPolicy {
			for _, f := range fields {
				key := typ + "." + f
				if _, dup := out[key]; dup {
					panic("graph: two policies for " + key)
				}
				out[key] = p
			}
		}
	}
	return out
}

// enforcePolicies checks each field's policy before its resolver runs.
// Introspection (__schema, __type, __typename) is answered for anyone; a
// field without a policy is refused, so that a forgotten one fails closed.
func enforcePolicies(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(fc.Field.Name) >= 2 && fc.Field.Name[:2] == "__" || len(fc.Object) >= 2 && fc.Object[:2] == "__" {
		return next(ctx)
	}
	if err := checkPolicy(ctx, fc); err != nil {
		return nil, err
	}
	return next(ctx)
}

func checkPolicy(ctx context.Context, fc *graphql.FieldContext) error {
	p, ok := fieldPolicies[fc.Object+"."+fc.Field.Name]
	if !ok {
		return fmt.Errorf("graph: field %s.%s has no policy", fc.Object, fc.Field.Name)
	}
	if p == Anonymous {
		return nil
	}
	v := authz.ViewerFrom(ctx)
	if v == nil {
		return apperr.TokenRequired()
	}
	switch p {
	case AnyUser, Scoped, Inherit:
		return nil
	case AdminOnly:
		if v.IsAdmin() {
			return nil
		}
	case SelfOrAdmin:
		if v.IsAdmin() {
			return nil
		}
		if owner, ok := ownerOf(fc, v.UserID); ok && owner == v.UserID {
			return nil
		}
	}
	return apperr.Forbidden("%s.%s is for %s", fc.Object, fc.Field.Name, policyAudience(p))
}

func policyAudience(p Policy) string {
	if p == SelfOrAdmin {
		return "the user it belongs to and administrators"
	}
	return "system administrators (SYSTEM_ADMIN)"
}

// ownerOf returns the user a SelfOrAdmin field is about: the user or
// token it is a field of, or for a root field, its id or userId argument
// (none given: the viewer, self).
func ownerOf(fc *graphql.FieldContext, self int64) (int64, bool) {
	if fc.Parent != nil && fc.Parent.Result != nil {
		switch o := fc.Parent.Result.(type) {
		case *users.User:
			return o.ID, o != nil
		case users.User:
			return o.ID, true
		case *users.APIToken:
			return o.UserID, o != nil
		case users.APIToken:
			return o.UserID, true
		}
	}
	if fc.Object != "Query" && fc.Object != "Mutation" && fc.Object != "Subscription" {
		return 0, false
	}
	for _, name := range []string{"id", "userId"} {
		if raw, present := fc.Args[name]; present {
			switch id := raw.(type) {
			case int64:
				return id, true
			case *int64:
				if id == nil {
					return self, true
				}
				return *id, true
			case nil:
				return self, true
			}
			return 0, false
		}
	}
	return self, true
}

// PolicyOf returns the policy of field ("Type.field"), 0 if it has none.
func PolicyOf(field string) Policy { return fieldPolicies[field] }
