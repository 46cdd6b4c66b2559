package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	victim := filepath.Join(dir, "victim.txt")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link at the old fixed temporary name must not be followed.
	if err := os.Symlink(victim, out+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(out, writeString("model")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("victim overwritten: %q", b)
	}
	if b, _ := os.ReadFile(out); string(b) != "model" {
		t.Errorf("out = %q", b)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}

	// An error while writing keeps the old content and leaves no temporary file.
	boom := errors.New("disk full")
	if err := WriteFileAtomic(out, func(w io.Writer) error { io.WriteString(w, "half"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "model" {
		t.Errorf("out after a failed write = %q", b)
	}
	if got := strings.Join(listDir(t, dir), ","); got != "out.onnx,out.onnx.tmp,victim.txt" {
		t.Errorf("directory after a failed write: %s", got)
	}

	// A directory at the target is refused with a clear message.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(sub, writeString("x")); err == nil || !strings.Contains(err.Error(), "existing directory") {
		t.Errorf("directory target: %v", err)
	}
	if got := len(listDir(t, dir)); got != 4 {
		t.Errorf("%d entries after the refused write", got)
	}
}
