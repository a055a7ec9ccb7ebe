using System.Diagnostics;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Deploy;

/// <summary>
/// The container images' build steps, without a container engine: deploy/containers/publish-check.sh runs the
/// Dockerfiles' own dotnet commands in a copy of the build context and starts what they publish (about 45 s).
/// </summary>
public sealed class PublishCheckTests
{
    [Fact]
    public async Task DockerfileBuildSteps_PublishProgramsThatStart()
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryPaths.Root, "deploy", "containers", "publish-check.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PUBLISH_CHECK_PORTS"] = $"{FreePorts.Next()} {FreePorts.Next()} {FreePorts.Next()}";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));

        Assert.True(process.ExitCode == 0, $"publish-check.sh failed:\n{await output}\n{await errors}");
        Assert.EndsWith("publish-check: ok", (await output).TrimEnd(), StringComparison.Ordinal);
    }
}
