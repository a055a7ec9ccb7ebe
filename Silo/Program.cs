using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
var cluster = TrackerSiloHosting.ReadClusterOptions(builder.Configuration);
builder.UseOrleans(silo => silo.UseTrackerSilo(cluster));

builder.Build().Run();
