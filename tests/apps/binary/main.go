// Sample app for binary_buildpack. The tests compile it (go build -o app) into an otherwise
// empty app directory and push that with the start command ./app, as one pushes a prebuilt
// executable.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/crash" {
			log.Print("crashing on request")
			os.Exit(3)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from binary, instance %s\n", os.Getenv("CF_INSTANCE_INDEX"))
	})
	port := os.Getenv("PORT")
	log.Printf("binary sample listening on %s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
