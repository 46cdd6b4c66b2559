module github.com/dshrink/dshrink

go 1.26.8
