package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// printJSON writes v to w as the --json output of a command. Every command
// that reports follows one convention, so that scripts can rely on it:
//
//   - the output is exactly one JSON document: an object, indented by one
//     space, followed by a newline, on stdout (progress and warnings go to
//     stderr);
//   - keys are snake_case; a quantity's unit is part of its key (p50_ms,
//     arena_mib, img_per_s, macs, params); fractions are in [0, 1], not
//     percent (top1 0.84);
//   - files a command wrote are listed under "outputs" (a key per file), the
//     inputs it read under their flag's name ("model", "config", ...);
//     merge, finetune and shrink print the report they also save
//     (report.json, summary.json), whose own fields name the files;
//   - lists of results are arrays of objects under a plural key ("results",
//     "images", "blocks").
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}
