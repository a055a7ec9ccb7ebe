namespace Chihaya.Orleans.Gateway.Options;

/// <summary>The admin API. Section "Admin".</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>
    /// The bearer token the site sends as <c>Authorization: Bearer …</c>. Empty disables the admin API.
    /// A secret: set it from the environment (<c>Admin__Token</c>), never in a committed file.
    /// </summary>
    public string Token { get; set; } = "";
}
