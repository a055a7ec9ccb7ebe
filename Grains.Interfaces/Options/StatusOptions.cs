namespace Chihaya.Orleans.Grains.Interfaces.Options;

/// <summary>The live status page's sampling, read by silos and gateways alike. Section "Status".</summary>
public sealed class StatusOptions
{
    public const string Section = "Status";

    /// <summary>How often each silo and gateway reports to the cluster's status, and how far apart the page's points are.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How much history the page shows.</summary>
    public TimeSpan History { get; set; } = TimeSpan.FromMinutes(15);
}
