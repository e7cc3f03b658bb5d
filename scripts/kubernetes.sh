#!/usr/bin/env bash
# Builds what the Kubernetes export tests run, skipping what is already built: a real
# kube-apiserver, kube-controller-manager and kubectl (k8s.io/kubernetes through the
# wrapper module in tests/kubernetes/cluster, which replaces each staging module with
# its published version) and kine (the etcd API on SQLite), all from the Go module
# proxy, cached by version. Sourced by scripts/test.sh; exports OBSDEMO_KUBERNETES_BIN.
set -euo pipefail

KUBERNETES_VERSION=v1.37.2
KINE_VERSION=v0.17.5
export OBSDEMO_KUBERNETES_BIN="${OBSDEMO_KUBERNETES_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/obsdemo/tools/kubernetes-$KUBERNETES_VERSION-kine-$KINE_VERSION}"

commands="kube-apiserver kube-controller-manager kubectl"
missing=""
for binary in $commands kine; do
  [ -x "$OBSDEMO_KUBERNETES_BIN/$binary" ] || missing="$missing $binary"
done
if [ -n "$missing" ]; then
  echo "==> building$missing ($KUBERNETES_VERSION; kine $KINE_VERSION) from source (about 8 minutes the first time on 2 cores; cached after)"
  mkdir -p "$OBSDEMO_KUBERNETES_BIN"
  # The version a plain `go build` leaves out (k8s.io/component-base/version/base.go).
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  ldflags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for command in $commands; do
    [ -x "$OBSDEMO_KUBERNETES_BIN/$command" ] && continue
    (cd tests/kubernetes/cluster && go build -trimpath -ldflags "$ldflags" -o "$OBSDEMO_KUBERNETES_BIN/$command.partial" "k8s.io/kubernetes/cmd/$command")
    mv "$OBSDEMO_KUBERNETES_BIN/$command.partial" "$OBSDEMO_KUBERNETES_BIN/$command"
  done
  [ -x "$OBSDEMO_KUBERNETES_BIN/kine" ] || GOBIN="$OBSDEMO_KUBERNETES_BIN" go install -trimpath "github.com/k3s-io/kine@$KINE_VERSION"
fi
