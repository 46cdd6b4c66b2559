package train_test

import (
	"context"
	"fmt"
	"log"

	"github.com/dshrink/dshrink/train"
)

// Train MobileNetV2-0.5 on Fashion-MNIST for two epochs with the example
// recipe; after an interruption (a cancelled context), the same call with
// Resume continues exactly where the run stopped.
func ExampleRun() {
	cfg, err := train.LoadConfig("configs/fmnist-mbv2-0.5.yaml")
	if err != nil {
		log.Fatal(err)
	}
	cfg.Epochs = 2
	cfg.Out = "runs/example"
	res, err := train.Run(context.Background(), cfg, train.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if res.Interrupted {
		if res, err = train.Run(context.Background(), cfg, train.Options{Resume: true}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("top-1 %.2f%% after %d steps\n", 100*res.Final.Top1, res.State.Step)
}
