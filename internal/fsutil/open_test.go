//go:build unix

package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs on windows")
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

func TestOpenRegularRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	// A FIFO with no writer would block a plain open forever; it must be refused at once.
	if _, _, err := OpenRegular(fifo); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("OpenRegular(fifo) = %v, want a named-pipe error", err)
	}
	if _, err := ReadFile(fifo, 0); err == nil {
		t.Fatal("ReadFile(fifo) succeeded")
	}
	if _, err := ReadFile(dir, 0); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("ReadFile(dir) = %v, want an is-a-directory error", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := ReadFile("/dev/zero", 0); err == nil || !strings.Contains(err.Error(), "device") {
			t.Fatalf("ReadFile(/dev/zero) = %v, want a device error", err)
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(path, 10); err != nil || string(b) != "0123456789" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := ReadFile(path, 9); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("ReadFile over the limit = %v", err)
	}
}

func TestOpenInsideRefusesEscapes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on windows")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret.bin")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.bin"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(secret, filepath.Join(dir, "link.bin")))
	must(os.Symlink("/", filepath.Join(dir, "root")))
	must(os.Symlink("ok.bin", filepath.Join(dir, "inner.bin")))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	mkfifo(t, filepath.Join(dir, "fifo"))

	for _, name := range []string{"link.bin", "root/etc/passwd", "../secret.bin", "/etc/passwd", "sub/../../secret.bin"} {
		_, _, err := OpenInside(dir, name)
		if err == nil {
			t.Errorf("OpenInside(%q) succeeded, want a refusal", name)
		} else if !errors.Is(err, ErrOutsideDir) && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("OpenInside(%q) = %v, want ErrOutsideDir", name, err)
		}
	}
	for _, name := range []string{"fifo", "sub", "."} {
		if _, _, err := OpenInside(dir, name); err == nil {
			t.Errorf("OpenInside(%q) succeeded, want a refusal", name)
		}
	}
	for _, name := range []string{"ok.bin", "inner.bin", "sub/../ok.bin"} {
		f, _, err := OpenInside(dir, name)
		if err != nil {
			t.Errorf("OpenInside(%q) = %v", name, err)
			continue
		}
		f.Close()
	}
	// The model's directory itself may be reached through a link.
	linkDir := filepath.Join(base, "dirlink")
	must(os.Symlink(dir, linkDir))
	f, _, err := OpenInside(linkDir, "ok.bin")
	if err != nil {
		t.Fatalf("OpenInside through a linked directory: %v", err)
	}
	f.Close()
}
