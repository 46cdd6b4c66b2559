package runtime

import "os"

// forceGo disables the assembly kernels when DSHRINK_NOASM is set (testing).
var forceGo = os.Getenv("DSHRINK_NOASM") != ""
