// Command check holds each provisioned Grafana dashboard against Grafana's own types,
// since no Grafana server can run on the machines that test obsdemo: it decodes the
// dashboard into the `dashboard.Dashboard` type of grafana-foundation-sdk (generated
// from Grafana's schema) with the panel plugins registered, runs its Validate(), and
// adds the refusals of Grafana's dashboard service that the schema does not carry.
//
// The ordinary decoding is used, not UnmarshalJSONStrict: the strict one refuses real
// dashboards that Grafana loads (every dashboard of opentelemetry-demo and
// docker-otel-lgtm tried), for fields the SDK does not model.
//
// Usage: check DATASOURCE_UID FILE...; prints each problem and exits 1 if any.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// grafana/grafana pkg/util/shortid_generator.go: validUIDPattern, and IsShortUIDTooLong
// (more than 40 characters).
var validUID = regexp.MustCompile(`^[a-zA-Z0-9\-\_]*$`)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: check DATASOURCE_UID FILE...")
		os.Exit(2)
	}
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, file := range os.Args[2:] {
		problems := check(file, os.Args[1])
		for _, problem := range problems {
			fmt.Printf("%s: %s\n", file, problem)
		}
		if len(problems) == 0 {
			fmt.Printf("%s: ok\n", file)
		}
		failed = failed || len(problems) > 0
	}
	if failed {
		os.Exit(1)
	}
}

func check(file, datasource string) []string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return []string{"does not decode as a Grafana dashboard: " + err.Error()}
	}
	var problems []string
	if err := d.Validate(); err != nil {
		problems = append(problems, "fails Grafana's schema: "+err.Error())
	}
	// grafana/grafana pkg/services/dashboards/errors.go and the dashboard service's
	// ValidateBasicDashboardProperties: ErrDashboardTitleEmpty, ErrDashboardTitleTooLong,
	// ErrDashboardInvalidUid, ErrDashboardUidTooLong; and the tag limit of errors.go.
	title, uid := "", ""
	if d.Title != nil {
		title = *d.Title
	}
	if d.Uid != nil {
		uid = *d.Uid
	}
	if title == "" {
		problems = append(problems, "its title is empty (Grafana: \"Dashboard title cannot be empty\")")
	}
	if len(title) > 5000 {
		problems = append(problems, "its title is longer than 5,000 characters")
	}
	if !validUID.MatchString(uid) {
		problems = append(problems, fmt.Sprintf("its uid %q holds characters other than a-z, A-Z, 0-9, - and _", uid))
	}
	if len(uid) > 40 {
		problems = append(problems, fmt.Sprintf("its uid %q is longer than 40 characters", uid))
	}
	for _, tag := range d.Tags {
		if len(tag) > 50 {
			problems = append(problems, fmt.Sprintf("its tag %q is longer than 50 characters", tag))
		}
	}
	// Every datasource it names must be the one obsdemo provisions: Grafana would show
	// "datasource not found" on each such panel.
	var tree any
	_ = json.Unmarshal(raw, &tree)
	for _, ref := range datasourceRefs(tree, "") {
		if ref.uid != datasource {
			problems = append(problems, fmt.Sprintf("%s names datasource uid %q, not the provisioned %q", ref.at, ref.uid, datasource))
		}
	}
	return problems
}

type ref struct{ at, uid string }

// datasourceRefs finds every `"datasource": {"uid": ...}` below v, with its path.
func datasourceRefs(v any, at string) []ref {
	var out []ref
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "datasource" {
				if ds, ok := v[k].(map[string]any); ok {
					if uid, ok := ds["uid"].(string); ok {
						out = append(out, ref{at + "." + k, uid})
					}
				}
			}
			out = append(out, datasourceRefs(v[k], at+"."+k)...)
		}
	case []any:
		for i, item := range v {
			out = append(out, datasourceRefs(item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return out
}
