# The image `obsdemo export kubernetes` runs the demo services with: obsdemo:<version>
# (its --services-image names another). Build and push it where the cluster pulls from:
#   docker build -t registry.example.com/obsdemo:0.1.0 .
#   docker push registry.example.com/obsdemo:0.1.0
#   obsdemo export kubernetes --services-image registry.example.com/obsdemo:0.1.0
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin obsdemo

# glibc and nothing else; runs as the `nonroot` user (65532) the export expects.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/obsdemo /usr/local/bin/obsdemo
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/obsdemo"]
