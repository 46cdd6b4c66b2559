package asmgen

import (
	"bytes"
	"fmt"
)

// Asm collects the text of a Go assembly file. The zero value is ready to
// use.
type Asm struct {
	buf bytes.Buffer
}

// I emits one instruction, formatted with fmt.Sprintf and indented by a
// tab.
func (a *Asm) I(format string, args ...any) {
	a.buf.WriteByte('\t')
	fmt.Fprintf(&a.buf, format, args...)
	a.buf.WriteByte('\n')
}

// Ins emits instructions already spelt (by an ISA's methods), one a line.
func (a *Asm) Ins(lines ...string) {
	for _, l := range lines {
		a.buf.WriteByte('\t')
		a.buf.WriteString(l)
		a.buf.WriteByte('\n')
	}
}

// Label emits a label definition.
func (a *Asm) Label(name string) {
	a.buf.WriteString(name)
	a.buf.WriteString(":\n")
}

// Comment emits a line comment at the left margin.
func (a *Asm) Comment(format string, args ...any) {
	a.buf.WriteString("// ")
	fmt.Fprintf(&a.buf, format, args...)
	a.buf.WriteByte('\n')
}

// Raw emits s unchanged.
func (a *Asm) Raw(s string) { a.buf.WriteString(s) }

// Bytes returns the text so far.
func (a *Asm) Bytes() []byte { return a.buf.Bytes() }
