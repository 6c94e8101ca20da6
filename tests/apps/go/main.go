// Sample app for go_buildpack: answers GET / and exits on GET /crash.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/crash" {
			log.Print("crashing on request")
			os.Exit(3)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from go, instance %s\n", os.Getenv("CF_INSTANCE_INDEX"))
	})
	port := os.Getenv("PORT")
	log.Printf("go sample listening on %s (%s)", port, runtime.Version())
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
