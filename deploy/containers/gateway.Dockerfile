# The gateway image. Build from the repository root (the build needs the shared props, every project the gateway
# references, deploy/sql, which the Grains assembly embeds, and deploy/seed, which the embedded mode reads):
#   deploy/containers/build.sh            (or: podman build -f deploy/containers/gateway.Dockerfile -t chihaya-gateway .)
# deploy/containers/publish-check.sh runs this file's dotnet commands without a container engine.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The project files first: the restore layer is then reused until a project or package version changes.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY Grains.Interfaces/Chihaya.Orleans.Grains.Interfaces.csproj Grains.Interfaces/
COPY Grains/Chihaya.Orleans.Grains.csproj Grains/
COPY Gateway/Chihaya.Orleans.Gateway.csproj Gateway/
RUN dotnet restore Gateway/Chihaya.Orleans.Gateway.csproj
COPY . .
RUN dotnet publish Gateway/Chihaya.Orleans.Gateway.csproj -c Release --no-restore -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# The gateway listens where Urls says (appsettings.json: http://0.0.0.0:6969); the image's own
# ASPNETCORE_HTTP_PORTS is cleared so there is one setting, not two that Kestrel would have to choose between.
ENV ASPNETCORE_HTTP_PORTS=
# Announces, scrapes, the admin API, /healthz and /readyz; 9969 is the admin port where Urls and Admin__Port name it
# (the Kubernetes base). (The embedded mode would also open 11111 and 30000, on loopback use only; the image is meant
# for Cluster__Mode=Client.)
EXPOSE 6969 9969
# The image's unprivileged user (uid 1654), by number, so Kubernetes' runAsNonRoot can verify it.
USER $APP_UID
# No curl in the runtime image: bash's /dev/tcp asks /healthz. Kubernetes ignores this and uses its own probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/6969 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "Chihaya.Orleans.Gateway.dll"]
