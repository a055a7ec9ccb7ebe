# The silo image. Build from the repository root (the build needs the shared props, every project the silo
# references and deploy/sql, which the Grains assembly embeds):
#   deploy/containers/build.sh            (or: podman build -f deploy/containers/silo.Dockerfile -t chihaya-silo .)
# deploy/containers/publish-check.sh runs this file's dotnet commands without a container engine.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The project files first: the restore layer is then reused until a project or package version changes.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY Grains.Interfaces/Chihaya.Orleans.Grains.Interfaces.csproj Grains.Interfaces/
COPY Grains/Chihaya.Orleans.Grains.csproj Grains/
COPY Silo/Chihaya.Orleans.Silo.csproj Silo/
RUN dotnet restore Silo/Chihaya.Orleans.Silo.csproj
COPY . .
RUN dotnet publish Silo/Chihaya.Orleans.Silo.csproj -c Release --no-restore -o /app

# ASP.NET Core's runtime, not the bare one: the silo serves /healthz and /readyz over HTTP.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# The silo's HTTP port comes from Urls (appsettings.json: 8080); the image's own ASPNETCORE_HTTP_PORTS is cleared so
# there is one setting, not two that Kestrel would have to choose between.
ENV ASPNETCORE_HTTP_PORTS=
# http (health, metrics), silo-to-silo (Cluster:SiloPort), gateways' connections (Cluster:GatewayPort).
EXPOSE 8080 11111 30000
# The image's unprivileged user (uid 1654), by number, so Kubernetes' runAsNonRoot can verify it.
USER $APP_UID
# No curl in the runtime image: bash's /dev/tcp asks /healthz. Kubernetes ignores this and uses its own probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# "migrate" as the argument migrates the schema and exits (the Kubernetes migration Job).
ENTRYPOINT ["dotnet", "Chihaya.Orleans.Silo.dll"]
