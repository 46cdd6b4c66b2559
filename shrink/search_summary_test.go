package shrink

import (
	"strings"
	"testing"

	"github.com/dshrink/dshrink/plan"
)

// TestWriteSummaryExplainsTies checks that the decision table says which
// decisions the gate made and which the tie-break settled.
func TestWriteSummaryExplainsTies(t *testing.T) {
	g := func(v float64) *float64 { return &v }
	p := &plan.Plan{Source: plan.SourceSearch, Units: []plan.Unit{
		{Name: "a", Keep: true, Gate: g(0)},
		{Name: "b", Keep: false, Gate: g(0)},
		{Name: "c", Keep: false, Gate: g(0.3)},
		{Name: "d", Keep: true},
	}, Meta: map[string]string{MetaTieBreak: `{"a":0.02,"b":0.01,"c":0.5}`, "not_mergeable": "d"}}
	var sb strings.Builder
	if err := WriteSummary(&sb, p); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"keep (gate tied with removed units; larger tie-break)",
		"remove (gate tied with kept units; smaller tie-break)",
		"remove (gate above every kept unit's)",
		"keep (not mergeable: no gate)",
		"tie-break",
		"2 decisions were ties",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestFormatGate checks that gates that decided differently look different.
func TestFormatGate(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 3.2e-6: "3.2e-06", 0.0048: "0.0048", 0.2581: "0.2581", 1: "1.0000"} {
		if got := formatGate(v); got != want {
			t.Errorf("formatGate(%g) = %q, want %q", v, got, want)
		}
	}
}
