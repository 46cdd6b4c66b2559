// Package buildinfo says which dshrink is running: its module version, the
// version-control commit it was built from and the Go version, as the Go
// toolchain records them in every binary (runtime/debug.ReadBuildInfo).
// `dshrink version` prints them and exported ONNX models carry Version as
// their producer_version.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// ModulePath is dshrink's module path.
const ModulePath = "github.com/dshrink/dshrink"

// Info is what the binary records about how dshrink was built.
type Info struct {
	// Module is the module version: a release tag (v1.2.0), a pseudo-version
	// with the commit (v0.0.0-20261206075000-abcdef123456, "+dirty" when the
	// tree had changes), or "(devel)" when the toolchain recorded none.
	Module string `json:"module"`
	// Commit is the full VCS revision, empty when the build recorded none
	// (go test, go run, a build outside a git checkout, -buildvcs=false).
	Commit string `json:"commit,omitempty"`
	// CommitTime is the commit's time (RFC 3339), when recorded.
	CommitTime string `json:"commit_time,omitempty"`
	// Modified is true when the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Go is the Go version that built the binary, e.g. go1.26.8.
	Go string `json:"go"`
	// OS and Arch are the target platform.
	OS   string `json:"os"`
	Arch string `json:"arch"`
}

// Read returns the build information of dshrink in this binary: the main
// module's when dshrink is the program, the dependency's when another
// program uses dshrink as a library.
func Read() Info {
	info := Info{Module: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	mod := &bi.Main
	for _, d := range bi.Deps {
		if d.Path == ModulePath && bi.Main.Path != ModulePath {
			mod = d
			if d.Replace != nil {
				mod = d.Replace
			}
		}
	}
	if mod.Version != "" {
		info.Module = mod.Version
	}
	if mod == &bi.Main { // VCS settings describe the main module only
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.CommitTime = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}

// Version returns one string that names this build: the module version when
// it is a release or pseudo-version, otherwise "devel" with the short commit
// ("devel+abcdef123456", "+dirty" for a modified tree), or "devel" alone.
func Version() string {
	return Read().Version()
}

// Version returns the one-string form of i (see the package function).
func (i Info) Version() string {
	if i.Module != "" && i.Module != "(devel)" {
		return i.Module
	}
	v := "devel"
	if i.Commit != "" {
		v += "+" + i.Commit[:min(12, len(i.Commit))]
		if i.Modified {
			v += "+dirty"
		}
	}
	return v
}
