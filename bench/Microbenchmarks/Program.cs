using BenchmarkDotNet.Running;

namespace Chihaya.Orleans.Microbenchmarks;

internal static class Program
{
    /// <summary>
    /// BenchmarkDotNet's own command line (<c>--filter</c>, <c>--job</c>, <c>--artifacts</c>, …; see bench/micro.sh).
    /// Exits with 1 when a benchmark failed or did not validate, so a script notices.
    /// </summary>
    public static int Main(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args).ToList();
        var failed = summaries.Any(summary => summary.HasCriticalValidationErrors || summary.Reports.Any(report => !report.Success));
        return failed ? 1 : 0;
    }
}
