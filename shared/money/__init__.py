"""Money: ISO 4217 currencies and their minor units (from Babel's CLDR data), the exchange rates each
organisation provides, and converting a day's amounts at that day's rate."""
