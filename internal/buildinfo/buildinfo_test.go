package buildinfo

import (
	"runtime"
	"testing"
)

// TestVersionForms checks the one-string version of each kind of build.
func TestVersionForms(t *testing.T) {
	for _, c := range []struct {
		info Info
		want string
	}{
		{Info{Module: "v1.2.0", Commit: "0123456789abcdef"}, "v1.2.0"},
		{Info{Module: "v0.0.0-20261206075000-0123456789ab+dirty"}, "v0.0.0-20261206075000-0123456789ab+dirty"},
		{Info{Module: "(devel)", Commit: "0123456789abcdef0123"}, "devel+0123456789ab"},
		{Info{Module: "(devel)", Commit: "0123456789abcdef0123", Modified: true}, "devel+0123456789ab+dirty"},
		{Info{Module: "(devel)"}, "devel"},
		{Info{}, "devel"},
	} {
		if got := c.info.Version(); got != c.want {
			t.Errorf("%+v: Version() = %q, want %q", c.info, got, c.want)
		}
	}
	if i := Read(); i.Go != runtime.Version() || i.Module == "" || Version() == "" {
		t.Errorf("Read() = %+v, Version() = %q", i, Version())
	}
}
