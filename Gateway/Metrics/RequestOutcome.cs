namespace Chihaya.Orleans.Gateway.Metrics;

/// <summary>How the gateway answered an announce or a scrape: what operators count, chart and alert on.</summary>
public enum RequestOutcome
{
    /// <summary>Answered with peers (announce) or counts (scrape).</summary>
    Accepted,

    /// <summary>A request no client should send: a passkey of the wrong form, a missing or bad parameter, a query too long.</summary>
    Malformed,

    /// <summary>A well-formed passkey the site does not know.</summary>
    UnknownPasskey,

    /// <summary>An info hash the site has not registered.</summary>
    Unregistered,

    /// <summary>A torrent the site deleted.</summary>
    Deleted,

    /// <summary>A client the site's allowlist does not include.</summary>
    ClientNotAllowed,

    /// <summary>A leech by a user who may not download.</summary>
    LeechNotAllowed,

    /// <summary>The cluster did not answer in time (no silo, a silo dying): the client retries.</summary>
    Unavailable,
}
